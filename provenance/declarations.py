"""What no scan can know, declared by the developer for the AB 2013 disclosure (a TOML file).

California Civil Code section 3111 asks for facts that the records cannot show: the system's
intended purpose, purchase/licence terms, aggregate consumer information, whether collection is
ongoing, exemptions under 3111(b). They come from this file; anything missing is reported as
NOT PROVIDED by the disclosure, never guessed. See examples/declarations.toml.
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


class DeclarationsError(ConfigError):
    """A declarations file that cannot be used; the one line names the file and the key."""


def load_declarations(path: str | os.PathLike[str] | None) -> Declarations:
    """Parse and validate a declarations TOML file; None -> no declarations (all NOT PROVIDED)."""
    if path is None:
        return Declarations()
    return load_toml(path, Declarations, what="declarations", error=DeclarationsError)
