"""Chart policies: which chart the agent watches and where it commits a newer version.

Declared in the agent configuration (``gitward.yaml``) under ``chartPolicies``,
beside ``imagePolicies`` and for the same reason (write access to a
repository is an operator's decision)::

    chartPolicies:
      - name: ingress
        repoURL: https://charts.example.com        # or oci://registry/path/chart
        chart: ingress-nginx                        # not for oci://
        range: ">=4.10 <5"
        interval: 10m
        update:
          repoURL: https://git.example.com/org/deploy.git
          branch: main
          path: apps                                 # directory (or file) to update

Under ``update.path``, every Application whose source (or an entry of
``sources``) names that chart gets its ``version`` set to the newest version
the range allows, and every ``Chart.yaml`` dependency on that chart from that
repository too; comments and layout are kept. Run by ``engine.charting``.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from gitward.config import applications, base, durations, images


class ChartPolicy(base.Spec):
    name: str = Field(description="DNS label naming the policy (logs, status).")
    repo_url: str = Field(alias="repoURL", description="Helm repository URL or oci:// chart.")
    chart: str = Field("", description="The chart's name in the Helm repository (not for oci://).")
    range: str = Field(description="Semver range the new version must satisfy.")
    interval: durations.PositiveDuration = Field(600.0, description="How often to look.")
    update: images.UpdateTarget = Field(description="Where the version is committed.")

    @field_validator("name")
    @classmethod
    def _label(cls, value: str) -> str:
        return applications.check_dns_label(value, "chart policy name")

    @model_validator(mode="after")
    def _chart(self) -> ChartPolicy:
        oci = self.repo_url.startswith("oci://")
        if oci and self.chart:
            raise ValueError("an oci:// repoURL names the chart itself; drop `chart`")
        if not oci and not self.chart:
            raise ValueError("`chart` is required for a Helm repository")
        if "@" in self.repo_url.removeprefix("oci://"):
            raise ValueError("a chart policy follows a range; its repoURL takes no @digest")
        return self
