"""Write a CycloneDX 1.5 SBOM of an image's root filesystem: Debian packages and Python dists.

    python3 deploy/image/sbom.py ROOTFS OUT.json

Reads ``ROOTFS/var/lib/dpkg/status`` (installed packages) and every
``*.dist-info/METADATA`` under ``ROOTFS/opt/gitward``; standard library only,
called by ``deploy/image/build.sh``.
"""

from __future__ import annotations

import email.parser
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote


def _debian(rootfs: Path) -> list[dict[str, object]]:
    status = (rootfs / "var/lib/dpkg/status").read_text(encoding="utf-8")
    found = []
    for stanza in status.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "install ok installed" not in fields.get("Status", ""):
            continue
        name, version, arch = fields["Package"], fields["Version"], fields["Architecture"]
        found.append(
            {
                "type": "library",
                "name": name,
                "version": version,
                "purl": f"pkg:deb/debian/{name}@{quote(version)}?arch={arch}&distro=debian-12",
                "bom-ref": f"deb:{name}",
            }
        )
    return found


def _python(rootfs: Path) -> list[dict[str, object]]:
    found = []
    for metadata in sorted(
        (rootfs / "opt/gitward").glob("lib/python3*/site-packages/*.dist-info/METADATA")
    ):
        parsed = email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8"))
        name, version = parsed["Name"], parsed["Version"]
        component: dict[str, object] = {
            "type": "library",
            "name": name,
            "version": version,
            "purl": f"pkg:pypi/{name.lower().replace('_', '-')}@{version}",
            "bom-ref": f"pypi:{name.lower()}",
        }
        license_ = parsed["License-Expression"] or ""
        if license_:
            component["licenses"] = [{"expression": license_}]
        found.append(component)
    return found


def main(argv: list[str]) -> int:
    rootfs, out = Path(argv[1]), Path(argv[2])
    components = _debian(rootfs) + _python(rootfs)
    gitward = next((c for c in components if c["name"] == "gitward"), None)
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [{"type": "application", "name": "gitward deploy/image/sbom.py"}]
            },
            "component": {
                "type": "container",
                "name": "gitward",
                "version": gitward["version"] if gitward else "unknown",
            },
        },
        "components": components,
    }
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
