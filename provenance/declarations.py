"""What no scan can know, declared by the developer for the disclosures (a TOML file).

California Civil Code section 3111 (AB 2013) asks for facts that the records cannot show: the
system's intended purpose, purchase/licence terms, aggregate consumer information, whether
collection is ongoing, exemptions under 3111(b). The EU AI Act training-content summary asks for
the provider, the date the model was placed on the Union market, crawler behaviour, user data
and more (`[eu]`); a dataset card and Croissant for the dataset's name, licence and intended uses
(`[dataset]`). They come from this file; anything missing is reported as NOT PROVIDED by every
format, never guessed. See examples/declarations.toml.
"""

from __future__ import annotations

import datetime as dt
import os

from pydantic import BaseModel, ConfigDict

from provenance.errors import ConfigError
from provenance.tomlfile import load_toml


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class System(_Section):
    """The generative AI system or service the disclosure is posted for."""

    name: str | None = None
    developer: str | None = None
    version: str | None = None
    url: str | None = None
    # 3111 applies to systems released on or after 2022-01-01; the posting is due on or before 2026-01-01.
    release_date: dt.date | None = None


class Sources(_Section):
    """Item 1: owners of the datasets beyond what the WARC records name (e.g. "Common Crawl Foundation")."""

    owners: list[str] | None = None
    notes: str | None = None


class Licensing(_Section):
    """Item 6: whether datasets were purchased or licensed, and on what terms."""

    purchased: bool | None = None
    licensed: bool | None = None
    terms: str | None = None


class IntellectualProperty(_Section):
    """Item 5 additions the licence scan cannot see (trademarks, patents, counsel's assessment)."""

    notes: str | None = None


class ConsumerInformation(_Section):
    """Item 8: aggregate consumer information as defined in Civil Code 1798.140(b)."""

    aggregate: bool | None = None
    notes: str | None = None


class Collection(_Section):
    """Item 10: whether data collection is ongoing (the statute asks for a notice if so)."""

    ongoing: bool | None = None
    notes: str | None = None


class FirstUse(_Section):
    """Item 11 fallback, when no training-run manifest is among the inputs."""

    date: dt.date | None = None
    notes: str | None = None


class Synthetic(_Section):
    """Item 12: the purpose of synthetic data generation (when not recorded in the synth manifests)."""

    used: bool | None = None
    purpose: str | None = None


class Exemptions(_Section):
    """Civil Code 3111(b): systems exempt from the disclosure."""

    security_and_integrity: bool | None = None  # (b)(1), as defined in 1798.140(ac)
    aircraft_operation: bool | None = None  # (b)(2), aircraft in the national airspace
    national_security: bool | None = None  # (b)(3), national security/military/defence, federal entity only
    notes: str | None = None


class EuPublicDatasets(_Section):
    """EU template 2.1: publicly available datasets beyond those the warcinfo records name."""

    used: bool | None = None
    names: list[str] | None = None  # identifier and link of each large one (over 3% of the public data)
    description: str | None = None  # the other publicly available datasets, in general terms


class EuPrivateDatasets(_Section):
    """EU template 2.2.2: private datasets from other third parties (2.2.1 is `licensing.licensed`)."""

    used: bool | None = None  # 2.2.2: private datasets from other third parties
    names: list[str] | None = None
    description: str | None = None


class EuCrawling(_Section):
    """EU template 2.3: what the WARC records cannot show about the crawlers."""

    by_provider: bool | None = None  # were crawlers used by the provider or on its behalf?
    names: list[str] | None = None  # crawler names when no warcinfo record names them
    purpose: str | None = None
    behaviour: str | None = None  # robots.txt, captchas, paywalls, login walls
    sources: str | None = None  # the type of content and online sources crawled


class EuUserData(_Section):
    """EU template 2.4: data from user interactions."""

    model_interactions: bool | None = None  # user input and prompts to the model itself
    other_services: bool | None = None  # interactions with the provider's other services or products
    description: str | None = None


class EuOtherSources(_Section):
    """EU template 2.6: any source not covered by 2.1-2.5."""

    used: bool | None = None
    description: str | None = None


class EuTdm(_Section):
    """EU template 3.1: respecting text-and-data-mining opt-outs (Directive (EU) 2019/790, Art. 4(3))."""

    code_of_practice_signatory: bool | None = None  # of the GPAI Code of Practice (its copyright chapter)
    measures: str | None = None


class Eu(_Section):
    """The EU AI Act Art. 53(1)(d) public summary of training content (template of 24 July 2025)."""

    provider_contact: str | None = None  # 1.1 (the provider's name is `system.developer`)
    authorised_representative: str | None = None  # 1.1, providers established outside the Union (Art. 54)
    model_dependencies: str | None = None  # 1.2: the model this one modifies or fine-tunes, and its summary
    placement_date: dt.date | None = None  # 1.2: date the model was placed on the Union market
    continuous_training: bool | None = None  # 1.3: trained on new data after the latest collection date?
    other_characteristics: str | None = None  # 1.3
    summary_version: str | None = None
    # SMEs list the top 5% of crawled domains or 1,000, whichever is lower, instead of the top 10% (2.3)
    sme: bool | None = None
    public_datasets: EuPublicDatasets = EuPublicDatasets()
    private_datasets: EuPrivateDatasets = EuPrivateDatasets()
    crawling: EuCrawling = EuCrawling()
    user_data: EuUserData = EuUserData()
    synthetic_models: str | None = None  # 2.5: whether the generating models are on the market, links
    other_sources: EuOtherSources = EuOtherSources()
    tdm: EuTdm = EuTdm()
    illegal_content: str | None = None  # 3.2 beyond the configured URL block list
    other_processing: str | None = None  # 3.3 (optional)


class Dataset(_Section):
    """The dataset card (Hugging Face) and Croissant metadata of the disclosed datasets."""

    pretty_name: str | None = None
    summary: str | None = None
    curated_by: str | None = None
    license: str | None = None  # the licence the dataset itself is released under (an SPDX id)
    url: str | None = None  # where the dataset is published
    version: str | None = None  # MAJOR.MINOR.PATCH (Croissant)
    citation: str | None = None  # BibTeX
    direct_use: str | None = None
    out_of_scope_use: str | None = None
    limitations: str | None = None
    contact: str | None = None


class Declarations(_Section):
    """The whole declarations file. Every key is optional; unknown keys are errors (typos don't vanish)."""

    system: System = System()
    purpose: str | None = None  # item 2: how the datasets further the system's intended purpose
    sources: Sources = Sources()
    data_types: str | None = None  # item 4 addition
    intellectual_property: IntellectualProperty = IntellectualProperty()
    licensing: Licensing = Licensing()
    personal_information: str | None = None  # item 7 addition
    consumer_information: ConsumerInformation = ConsumerInformation()
    processing: str | None = None  # item 9 addition (purpose of the cleaning)
    collection: Collection = Collection()
    first_use: FirstUse = FirstUse()
    synthetic: Synthetic = Synthetic()
    exemptions: Exemptions = Exemptions()
    eu: Eu = Eu()
    dataset: Dataset = Dataset()


class DeclarationsError(ConfigError):
    """A declarations file that cannot be used; the one line names the file and the key."""


def load_declarations(path: str | os.PathLike[str] | None) -> Declarations:
    """Parse and validate a declarations TOML file; None -> no declarations (all NOT PROVIDED)."""
    if path is None:
        return Declarations()
    return load_toml(path, Declarations, what="declarations", error=DeclarationsError)
