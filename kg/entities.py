"""The catalog's schema: one pydantic model per kind of entity.

Models are strict (no coercion: `"7"` is not 7, `"no"` is not False) and
forbid unknown fields, so a typo is an error rather than a silently ignored
key. Checks that need more than one entry (references, cycles, dates of
parents) live in `kg.catalog`.
"""

from __future__ import annotations

import calendar
import re
from functools import cached_property
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError
from pyoxigraph import NamedNode

# kind -> folder under data/
FOLDERS = {
    "model": "models",
    "dataset": "datasets",
    "organization": "organizations",
    "person": "people",
    "method": "methods",
    "software": "software",
}

MODEL_RELATIONS = (
    "finetune",
    "adapter",
    "continued-pretraining",
    "merge",
    "quantized",
    "reproduction",
    "component",
    "architecture",
    "distillation",
)
DATASET_RELATIONS = ("translation", "subset", "regeneration", "conversion", "filtering")

SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]|\.(?=[a-z0-9]))*$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-(?:[A-Z]{2}|[0-9]{3}))?$")
DATE = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")  # ASCII digits only: \d takes ２ and ٠ too
COUNTRY = re.compile(r"^[A-Z]{2}$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
URL_FORBIDDEN = re.compile(r"[\s\"'<>\\^`{|}]")


def _check_id(value: str) -> str:
    kind, _, slug = value.partition("/")
    if kind not in FOLDERS or not SLUG.match(slug):
        raise PydanticCustomError(
            "bad_id",
            "'{value}' is not an id of the form <kind>/<slug> (kind one of {kinds}; "
            "slug of lowercase a-z, 0-9, '-' and inner '.')",
            {"value": value, "kinds": ", ".join(FOLDERS)},
        )
    return value


# Words people write for a value they do not know; an unknown value is an absent field.
PLACEHOLDERS = {"unknown", "none", "n/a", "na", "tbd", "todo", "null", "nil", "?", "-"}


def _check_text(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty or blank")
    if value.strip().casefold() in PLACEHOLDERS:
        raise PydanticCustomError(
            "placeholder", "'{value}' is a placeholder (leave the field out when it is unknown)", {"value": value}
        )
    if value != value.strip():
        raise PydanticCustomError("whitespace", "has leading or trailing spaces")
    return value


def _check_label(value: str) -> str:
    _check_text(value)
    if "\n" in value or "\t" in value:
        raise PydanticCustomError("multiline", "must be a single line")
    return value


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("bad_url", "'{value}' is not an absolute http(s) URL", {"value": value})
    if parts.username or parts.password:
        raise PydanticCustomError("bad_url", "URL must not carry a user name or password")
    if URL_FORBIDDEN.search(value):
        raise PydanticCustomError("bad_url", "URL contains a space, quote or other character not allowed in an IRI")
    try:
        NamedNode(value)  # Oxigraph's IRI parser: what it accepts, every strict RDF parser accepts
    except ValueError as exc:
        raise PydanticCustomError("bad_url", "'{value}' is not a valid IRI: {reason}", {"value": value, "reason": str(exc)})
    return value


def _check_date(value: str) -> str:
    match = DATE.match(value)
    if not match:
        raise PydanticCustomError("bad_date", "'{value}' is not a date: write YYYY-MM-DD, YYYY-MM or YYYY", {"value": value})
    year, month, day = (int(g) if g else None for g in match.groups())
    if year < 1:
        raise PydanticCustomError("bad_date", "'{value}' has no year 0: the calendar starts at year 1", {"value": value})
    if month is not None and not 1 <= month <= 12:
        raise PydanticCustomError("bad_date", "'{value}' has no month {month}", {"value": value, "month": month})
    if day is not None and not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise PydanticCustomError("bad_date", "'{value}' is not a calendar date", {"value": value})
    return value


def _check_language(value: str) -> str:
    if not LANGUAGE.match(value):
        fixed = value.replace("_", "-")
        hint = f"did you mean '{fixed}'?" if LANGUAGE.match(fixed) else "use a BCP 47 tag such as 'en', 'zh' or 'zh-Hant'"
        raise PydanticCustomError("bad_language", "'{value}' is not a BCP 47 language tag ({hint})", {"value": value, "hint": hint})
    return value


def _check_country(value: str) -> str:
    if not COUNTRY.match(value):
        raise PydanticCustomError("bad_country", "'{value}' is not an ISO 3166-1 alpha-2 code such as 'US' or 'CN'", {"value": value})
    return value


def _unique(values: list) -> list:
    seen = set()
    for value in values:
        key = value.casefold() if isinstance(value, str) else value
        if key in seen:
            raise PydanticCustomError("duplicate_item", "'{value}' repeats an earlier item (case is ignored)", {"value": value})
        seen.add(key)
    return values


def _check_commit(value: str) -> str:
    if not COMMIT.match(value):
        raise PydanticCustomError("bad_commit", "'{value}' is not a git commit (7 to 40 lowercase hex digits)", {"value": value})
    return value


Id = Annotated[str, AfterValidator(_check_id)]
Label = Annotated[str, AfterValidator(_check_label)]
Text = Annotated[str, AfterValidator(_check_text)]
Url = Annotated[str, AfterValidator(_check_url)]
Date = Annotated[str, AfterValidator(_check_date)]
Language = Annotated[str, AfterValidator(_check_language)]
Country = Annotated[str, AfterValidator(_check_country)]
LicenseId = Annotated[str, AfterValidator(_check_label)]
Commit = Annotated[str, AfterValidator(_check_commit)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Source(Strict):
    """A URL and what it supports."""

    url: Url
    supports: Label


class Correction(Strict):
    """Where the seed article is wrong: what it claims, what is true, and the proof."""

    claim: Text
    fact: Text
    source: Url


class Links(Strict):
    repository: Url | None = None
    huggingface: Url | None = None
    paper: Url | None = None
    homepage: Url | None = None
    demo: Url | None = None
    blog: Url | None = None


class Ref(Strict):
    """An edge from this entity to `id`, with its own evidence where it has some."""

    id: Id
    source: Url | None = None
    note: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class DatedRef(Ref):
    """An edge whose target must not be released after the entity, unless `date_waiver` says why it may."""

    date_waiver: Text | None = None


class ModelDerivation(DatedRef):
    relation: Literal[MODEL_RELATIONS]  # type: ignore[valid-type]


class DatasetDerivation(DatedRef):
    relation: Literal[DATASET_RELATIONS]  # type: ignore[valid-type]


# Where a licence statement was read: the kinds of primary source a publisher uses.
STATEMENT_PLACES = ("hub-tag", "model-card", "license-file", "readme", "paper", "website", "terms")


class LicenseStatement(Strict):
    """What one primary source says the licence (or a restriction) is.

    Several statements may disagree (a permissive Hub tag beside a README that
    restricts use to research); all are kept, and the entity's `license` says
    which one governs, with `license_basis` saying why.
    """

    license: LicenseId
    where: Literal[STATEMENT_PLACES]  # type: ignore[valid-type]
    source: Url
    as_of: Date | None = None
    commit: Commit | None = None
    note: Text | None = None
    # What the licence covers when the place says: the code beside the weights is no claim on them.
    scope: Literal["weights", "data", "code"] | None = None


class OutputTerms(Strict):
    """Terms a provider puts on what a model outputs, such as OpenAI's terms of
    use on answers from ChatGPT: they travel to data generated with the model."""

    license: LicenseId
    source: Url
    note: Text | None = None


class Entity(Strict):
    """Fields every kind has."""

    id: Id
    name: Label
    name_zh: Label | None = None
    aliases: Annotated[list[Label], AfterValidator(_unique)] = []
    description: Text
    description_zh: Text | None = None
    links: Links | None = None
    # This entity's ids in other trackers (huggingface:<owner>/<name>, ecosystem-graphs:<file>/<name>), for kg.merge.
    same_as: Annotated[list[Label], AfterValidator(_unique)] = []
    sources: Annotated[list[Source], Field(min_length=1)]
    corrections: list[Correction] = []

    @property
    def kind(self) -> str:
        return self.id.partition("/")[0]

    @property
    def released_on(self) -> str | None:
        return getattr(self, "released", None)

    @cached_property
    def edges(self) -> tuple[tuple[str, int, Ref], ...]:
        """Every outgoing edge as (field, position, reference); position -1 for a single value."""
        out: list[tuple[str, int, Ref]] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, Ref):
                out.append((name, -1, value))
            elif isinstance(value, list) and value and isinstance(value[0], Ref):
                out.extend((name, i, ref) for i, ref in enumerate(value))
        return tuple(out)


class Model(Entity):
    foundation: bool = False
    open_weights: bool | None = None
    released: Date | None = None
    parameters: Annotated[int, Field(gt=0)] | None = None
    languages: Annotated[list[Language], AfterValidator(_unique)] = []
    license: LicenseId | None = None
    license_statements: list[LicenseStatement] = []
    license_basis: Text | None = None
    output_terms: list[OutputTerms] = []
    family: Ref | None = None
    developers: list[Ref] = []
    derived_from: list[ModelDerivation] = []
    trained_on: list[Ref] = []
    methods: list[Ref] = []
    built_with: list[Ref] = []


class Dataset(Entity):
    released: Date | None = None
    languages: Annotated[list[Language], AfterValidator(_unique)] = []
    license: LicenseId | None = None
    license_statements: list[LicenseStatement] = []
    license_basis: Text | None = None
    records: Annotated[int, Field(gt=0)] | None = None
    developers: list[Ref] = []
    derived_from: list[DatasetDerivation] = []
    generated_by: list[DatedRef] = []
    methods: list[Ref] = []


class Software(Entity):
    released: Date | None = None
    license: LicenseId | None = None
    license_statements: list[LicenseStatement] = []
    license_basis: Text | None = None
    developers: list[Ref] = []
    methods: list[Ref] = []
    supports: list[Ref] = []
    built_with: list[Ref] = []


class Organization(Entity):
    country: Country | None = None
    part_of: list[Ref] = []


class Person(Entity):
    affiliations: list[Ref] = []


class Method(Entity):
    released: Date | None = None
    developers: list[Ref] = []
    broader: list[Ref] = []


SCHEMAS: dict[str, type[Entity]] = {
    "model": Model,
    "dataset": Dataset,
    "organization": Organization,
    "person": Person,
    "method": Method,
    "software": Software,
}

# field -> kinds its references may point at (derived_from depends on the relation)
TARGET_KINDS: dict[str, tuple[str, ...]] = {
    "family": ("model",),
    "developers": ("organization", "person"),
    "trained_on": ("dataset",),
    "methods": ("method",),
    "built_with": ("software",),
    "generated_by": ("model",),
    "supports": ("model",),
    "part_of": ("organization",),
    "affiliations": ("organization",),
    "broader": ("method",),
}


class License(Strict):
    """An entry of data/licenses.yaml: a licence, terms of use or a stated restriction.

    Each term is true (allowed / required), false (forbidden / not required) or
    absent (the text does not settle it). `sources` back the terms; `url` is
    the text itself.
    """

    id: LicenseId
    name: Label
    url: Url
    kind: Literal["licence", "terms-of-use", "restriction"] = "licence"
    commercial_use: bool | None = None
    derivatives: bool | None = None
    redistribution: bool | None = None
    attribution: bool | None = None
    share_alike: bool | None = None
    use_restrictions: bool | None = None
    output_restrictions: bool | None = None
    # Conditions and duties, as data (data/licenses.yaml's header says what each means).
    user_threshold: Annotated[int, Field(gt=0)] | None = None
    commercial_registration: bool | None = None
    commercial_approval: bool | None = None
    hosting_grant: bool | None = None
    notice_text: Label | None = None
    name_prefix: Label | None = None
    use_policy: Url | None = None
    output_use_exception: Label | None = None
    research_only: bool | None = None
    non_production: bool | None = None
    derivatives_keep_licence: bool | None = None
    output_reach: Literal["all"] | list[Literal["name-prefix", "notice", "attribution", "use-restrictions"]] | None = None
    note: Text | None = None
    sources: list[Source] = []


class LicenseTable(Strict):
    licenses: Annotated[list[License], Field(min_length=1)]
