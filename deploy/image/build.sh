#!/bin/sh
# Build gitward's OCI image from Debian packages and PyPI wheels only.
#
#   deploy/image/build.sh                       # what `make image` runs
#   IMAGE=registry.example.com/gitward:0.1.0 PUSH=1 deploy/image/build.sh
#
# 1. A Debian bookworm root filesystem from mmdebstrap (variant essential: no
#    apt) with the few packages gitward runs (python3, git, gnupg, ssh client,
#    CA certificates); cached under $CACHE keyed by everything that shapes it
#    and the ISO week, so security updates arrive at least weekly
#    (REFRESH=1 rebuilds it now).
# 2. gitward's wheel and the pinned wheels of its dependencies (constraints.txt)
#    downloaded by the host's pip for CPython 3.11 on manylinux, installed
#    into a venv made by the rootfs' own python3 at /opt/gitward; bytecode
#    compiled at build time (the root filesystem is read-only at run time).
#    pip itself never enters the image.
# 3. dpkg's tools removed (its status file stays for scanners), a user 10001,
#    a CycloneDX SBOM at /usr/share/gitward/sbom.cdx.json (also beside the image).
# 4. Committed with buildah (vfs storage under $OUT, no daemon), labelled with
#    the version and git commit; pushed when PUSH=1 (TLS_VERIFY=false for a
#    registry without TLS), else (or with ARCHIVE=1) written to
#    $OUT/gitward.oci.tar; the image also stays in buildah's storage under $OUT.
#
# Needs root (or a user namespace), mmdebstrap and buildah (`make image-deps`).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
IMAGE=${IMAGE:-localhost/gitward:dev}
PUSH=${PUSH:-0}
TLS_VERIFY=${TLS_VERIFY:-true}
OUT=${OUT:-$ROOT/build/image}
CACHE=${CACHE:-$ROOT/build/image-cache}
PY=${PY:-python3}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
PACKAGES="python3,git,gnupg,openssh-client,ca-certificates"
# Wheels for bookworm's CPython 3.11 and glibc 2.36: pip does not widen an
# explicit --platform, so every compatible manylinux tag is named.
PYTHON_TAGS="--python-version 3.11 --implementation cp --abi cp311 --only-binary=:all:"
for glibc in $(seq 17 36); do PYTHON_TAGS="$PYTHON_TAGS --platform manylinux_2_${glibc}_x86_64"; done
PYTHON_TAGS="$PYTHON_TAGS --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64"

started=$(date +%s)
phase() { echo "== [$(($(date +%s) - started))s] $*"; }
mkdir -p "$OUT" "$CACHE"
work=$(mktemp -d "$OUT/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- 1. the Debian root filesystem (cached) --------------------------------------
DPKG_OPTIONS="--dpkgopt=path-exclude=/usr/share/doc/* --dpkgopt=path-include=/usr/share/doc/*/copyright
  --dpkgopt=path-exclude=/usr/share/man/* --dpkgopt=path-exclude=/usr/share/info/*
  --dpkgopt=path-exclude=/usr/share/locale/*"
key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$DPKG_OPTIONS" "$MIRROR" "$SECURITY" "$(date +%G-%V)" \
      | sha256sum | cut -c1-16)
base="$CACHE/rootfs-$SUITE-$key.tar"
if [ "${REFRESH:-0}" = 1 ] || [ ! -s "$base" ]; then
  phase "mmdebstrap $SUITE ($PACKAGES)"
  set -f  # the options hold globs for dpkg, not for the shell
  # shellcheck disable=SC2086
  mmdebstrap --quiet --variant=essential --include="$PACKAGES" $DPKG_OPTIONS \
    "$SUITE" "$work/base.tar" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main"
  find "$CACHE" -name 'rootfs-*.tar' ! -name "rootfs-$SUITE-$key.tar" -delete
  set +f
  mv "$work/base.tar" "$base"
else
  phase "Debian root filesystem from the cache ($base)"
fi
rootfs="$work/rootfs"
mkdir "$rootfs"
tar -xf "$base" -C "$rootfs" --numeric-owner

# --- 2. gitward and its pinned wheels -----------------------------------------------
phase "wheels"
"$PY" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/wheels" "$ROOT"
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --disable-pip-version-check $PYTHON_TAGS \
  -c "$HERE/constraints.txt" -d "$work/wheels" "$work"/wheels/gitward-*.whl
chroot "$rootfs" /usr/bin/python3 -m venv --without-pip /opt/gitward
site="$rootfs/opt/gitward/lib/python3.11/site-packages"
# shellcheck disable=SC2086
"$PY" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --no-compile \
  $PYTHON_TAGS --target "$site" "$work"/wheels/*.whl
# Wheels' scripts: executables (kubectl) go to the venv's bin, where their
# packages look for them; console scripts written for the host's interpreter go.
for script in "$site"/bin/*; do
  if [ "$(head -c 4 "$script" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$script" "$rootfs/opt/gitward/bin/"
  fi
done
rm -rf "$site/bin"
# Wheels cannot hold symlinks, so shared libraries come in copies (libhelm_c.so,
# .so.0, .so.0.2.2: 85 MB each): identical files become hard links.
"$PY" - "$site" <<'PYEOF'
import hashlib, os, sys
seen = {}
for folder, _, files in os.walk(sys.argv[1]):
    for name in files:
        path = os.path.join(folder, name)
        if os.path.islink(path) or os.path.getsize(path) < 1 << 20:
            continue
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest in seen:
            os.unlink(path)
            os.link(seen[digest], path)
        else:
            seen[digest] = path
PYEOF
cat > "$rootfs/opt/gitward/bin/gitward" <<'PYEOF'
#!/opt/gitward/bin/python3
import sys

from gitward.cli.main import run

sys.exit(run())
PYEOF
chmod 0755 "$rootfs/opt/gitward/bin/gitward"
chroot "$rootfs" /opt/gitward/bin/python3 -m compileall -q -j 0 /opt/gitward/lib >/dev/null
phase "installed into /opt/gitward"

# --- 3. no package manager, a user, the SBOM -----------------------------------------
"$PY" "$HERE/sbom.py" "$rootfs" "$OUT/sbom.cdx.json"
mkdir -p "$rootfs/usr/share/gitward"
cp "$OUT/sbom.cdx.json" "$rootfs/usr/share/gitward/sbom.cdx.json"
rm -f "$rootfs"/usr/bin/dpkg* "$rootfs"/usr/sbin/dpkg* "$rootfs"/usr/bin/debconf* \
      "$rootfs"/usr/sbin/update-alternatives
rm -rf "$rootfs"/var/cache/debconf/* "$rootfs"/var/log/* "$rootfs"/var/lib/apt
echo 'gitward:x:10001:10001:gitward:/tmp:/usr/sbin/nologin' >> "$rootfs/etc/passwd"
echo 'gitward:x:10001:' >> "$rootfs/etc/group"
mkdir -p "$rootfs/etc/gitward" "$rootfs/var/lib/gitward" "$rootfs/var/cache/gitward"
chown 10001:10001 "$rootfs/var/lib/gitward" "$rootfs/var/cache/gitward"
for forbidden in apt apt-get dpkg pip pip3 gcc cc; do
  if chroot "$rootfs" /bin/sh -c "command -v $forbidden" >/dev/null 2>&1; then
    echo "error: $forbidden is still in the image" >&2; exit 1
  fi
done
tar -C "$rootfs" --numeric-owner -cf "$work/rootfs.tar" .
phase "root filesystem assembled"

# --- 4. the image ------------------------------------------------------------------
version=$("$PY" -c "import tomllib,sys; print(tomllib.load(open(sys.argv[1],'rb'))['project']['version'])" "$ROOT/pyproject.toml")
revision=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$revision" != unknown ] && [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
  revision="$revision-dirty"
fi
B="buildah --root $OUT/storage --runroot $OUT/run --storage-driver vfs"
phase "buildah ($IMAGE, version $version, revision $revision)"
ctr=$($B from --quiet scratch)
$B add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
$B config \
  --user 10001:10001 --workingdir /tmp \
  --entrypoint '["/opt/gitward/bin/gitward"]' --cmd '["serve", "--config", "/etc/gitward/gitward.yaml"]' \
  --env PATH=/opt/gitward/bin:/usr/sbin:/usr/bin:/sbin:/bin --env HOME=/tmp \
  --env PYTHONDONTWRITEBYTECODE=1 --env XDG_CACHE_HOME=/var/cache \
  --volume /tmp --volume /var/lib/gitward --volume /var/cache/gitward --port 8080 \
  --label org.opencontainers.image.title=gitward \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.created="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --label org.opencontainers.image.base.name="debian:$SUITE (mmdebstrap)" \
  --label dev.gitward.sbom=/usr/share/gitward/sbom.cdx.json \
  "$ctr"
$B commit --quiet --format oci --rm "$ctr" "$IMAGE" >/dev/null
phase "committed"
size=$(du -sh "$rootfs" | cut -f1)
if [ "$PUSH" = 1 ]; then
  phase "push docker://$IMAGE"
  $B push --quiet --tls-verify="$TLS_VERIFY" --digestfile "$OUT/digest" "$IMAGE" "docker://$IMAGE"
  where="pushed as $IMAGE@$(cat "$OUT/digest")"
fi
if [ "$PUSH" != 1 ] || [ "${ARCHIVE:-0}" = 1 ]; then
  rm -f "$OUT/gitward.oci.tar"
  $B push --quiet "$IMAGE" "oci-archive:$OUT/gitward.oci.tar:$IMAGE"
  where="${where:+$where, }$OUT/gitward.oci.tar ($(du -h "$OUT/gitward.oci.tar" | cut -f1) compressed)"
fi
echo "== done in $(($(date +%s) - started))s: root filesystem $size; $where; SBOM $OUT/sbom.cdx.json"
