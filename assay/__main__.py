from assay.cli import main

if __name__ == "__main__":  # multiprocessing spawn re-imports the main module: no second CLI run
    main()
