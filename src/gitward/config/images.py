"""Image policies: which image the agent watches in a registry and where it writes the update.

Declared as a list in the agent configuration (``gitward.yaml``), under
``imagePolicies``, beside the repository credentials they need: a policy
names a registry and write access to a repository, which are operator
concerns, not something any Application author in Git should be able to
point at another team's repository. Each entry::

    imagePolicies:
      - name: web-staging
        image: registry.example.com/org/web        # no tag
        policy: {semver: {range: ">=1.0 <2"}}      # or numerical: {order: asc}
                                                   # or alphabetical: {order: asc}
        filterTags: {pattern: '^main-(?P<extract>\\d+)$'}   # optional
        exclude: ['-rc']                           # optional regexes
        interval: 1m
        registry: {insecure: false, caFile: "", username: bot, passwordEnv: REGISTRY_TOKEN}
        update:
          repoURL: https://git.example.com/org/deploy.git
          branch: main
          path: web/overlays/staging
          key: ""                                  # Helm values key, e.g. image.tag
          author: {name: gitward, email: gitward@example.com}

The agent never applies a new tag itself: it commits it to ``update``, and
the Applications reading that path sync it like any other commit (Git stays
the truth). ``engine.imaging.watch_images`` runs them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from gitward.config import applications, base, durations


class OrderSpec(base.Spec):
    order: Literal["asc", "desc"] = Field(
        "asc", description="asc picks the largest value, desc the smallest."
    )


class SemverSpec(base.Spec):
    range: str = Field(description="Semver range, same syntax as Application refs: >=1.2 <2.")


class TagOrder(base.Spec):
    """Exactly one of the orders."""

    semver: SemverSpec | None = None
    numerical: OrderSpec | None = None
    alphabetical: OrderSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> TagOrder:
        chosen = [n for n in ("semver", "numerical", "alphabetical") if getattr(self, n)]
        if len(chosen) != 1:
            raise ValueError("policy must declare exactly one of semver, numerical, alphabetical")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in ("semver", "numerical", "alphabetical") if getattr(self, n))


class FilterTags(base.Spec):
    pattern: str = Field(
        description="Regex a tag must match; its group `extract` (or first group) is ordered."
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"pattern {value!r} is not a valid regular expression: {exc}"
            ) from None
        return value


class RegistryAccess(base.Spec):
    """How to reach the registry; the password is referenced, never written here."""

    insecure: bool = Field(False, description="Plain http (a registry on loopback or in-cluster).")
    ca_file: str = Field("", alias="caFile")
    username: str = ""
    password_env: str = Field("", alias="passwordEnv")
    password_file: str = Field("", alias="passwordFile")
    timeout: durations.PositiveDuration = 30.0


class Author(base.Spec):
    name: str = "gitward"
    email: str = "gitward@localhost"


class UpdateTarget(base.Spec):
    """Where the chosen tag is committed."""

    repo_url: str = Field(alias="repoURL")
    branch: str = "main"
    path: str = Field("", description="Directory (or file) whose pins of the image are updated.")
    key: str = Field("", description="Helm values key holding the tag, e.g. image.tag.")
    author: Author = Field(default_factory=lambda: Author())


class ImagePolicy(base.Spec):
    name: str
    image: str = Field(description="Image name without tag: registry/repository.")
    policy: TagOrder
    filter_tags: FilterTags | None = Field(None, alias="filterTags")
    exclude: list[str] = Field(default_factory=list, description="Regexes of tags to ignore.")
    interval: durations.PositiveDuration = Field(60.0, description="How often to list tags.")
    registry: RegistryAccess = Field(default_factory=lambda: RegistryAccess())
    update: UpdateTarget

    @field_validator("name")
    @classmethod
    def _label(cls, value: str) -> str:
        return applications.check_dns_label(value, "image policy name")

    @field_validator("exclude")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"exclude pattern {pattern!r} is invalid: {exc}") from None
        return value

    @field_validator("image")
    @classmethod
    def _untagged(cls, value: str) -> str:
        last = value.rsplit("/", 1)[-1]
        if "@" in value or ":" in last:
            raise ValueError(f"image {value!r} must not carry a tag or digest")
        return value
