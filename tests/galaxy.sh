#!/usr/bin/env bash
# The collection as Galaxy sees it on upload: the tarball `ansible-galaxy collection
# build` makes, run through galaxy-importer, pinned, from its own virtualenv
# (.build/importer-venv, from tests/galaxy/requirements.txt), configured by
# tests/galaxy/galaxy-importer.cfg. Fails on an error, and on a warning that
# tests/galaxy/kept-warnings.txt does not list; every warning is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.build/importer-venv
reqs=tests/galaxy/requirements.txt
work=$root/.build/galaxy
start=$SECONDS

# pip's chatter about this machine's extra package indexes is dropped.
quiet() {
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  grep -v "^WARNING: Location 'file:///opt/" <<<"$out" || true
  return $rc
}

# The importer's own virtualenv, made again only when its pins change.
if ! cmp -s "$reqs" "$venv/.installed" 2>/dev/null; then
  echo "== galaxy-importer virtualenv ($reqs)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  quiet "$venv/bin/pip" install -q --disable-pip-version-check -r "$reqs"
  cp "$reqs" "$venv/.installed"
fi

echo "== ansible-galaxy collection build"
rm -rf "$work" && mkdir -p "$work/dist"
"$root/.venv/bin/ansible-galaxy" collection build --output-path "$work/dist" . >/dev/null
tarball=$(ls "$work"/dist/*.tar.gz)
echo "   $(basename "$tarball")"

echo "== galaxy-importer $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("galaxy-importer"))')"
# As on Galaxy: nothing of this checkout in view (no ansible.cfg, no collections
# path of ours); ansible-lint and ansible-doc are the importer's own.
rc=0
(cd "$work" && env -u ANSIBLE_CONFIG -u ANSIBLE_COLLECTIONS_PATH -u ANSIBLE_COLLECTIONS_PATHS \
   GALAXY_IMPORTER_CONFIG="$root/tests/galaxy/galaxy-importer.cfg" PATH="$venv/bin:$PATH" \
   "$venv/bin/python" -m galaxy_importer.main "$tarball") >"$work/importer.log" 2>&1 || rc=$?
grep -v "^Loading " "$work/importer.log" | sed 's/^/   /'

errors=$(grep -c "^ERROR" "$work/importer.log" || true)
warnings=$(grep "^WARNING" "$work/importer.log" || true)
kept=$(grep -v -e '^#' -e '^$' tests/galaxy/kept-warnings.txt || true)
new=$warnings
[ -z "$kept" ] || new=$(grep -v -F -f <(printf '%s\n' "$kept") <<<"$warnings" || true)
count() { if [ -z "$1" ]; then echo 0; else wc -l <<<"$1"; fi; }
echo "   importer exit code $rc; $errors error(s); $(count "$warnings") warning(s), of them" \
     "$(count "$new") not in tests/galaxy/kept-warnings.txt; $((SECONDS - start))s"
if [ "$rc" -ne 0 ] || [ "$errors" -ne 0 ]; then
  echo "galaxy-importer refused the collection or reported errors (log: .build/galaxy/importer.log)"
  exit 1
fi
if [ -n "$new" ]; then
  echo "new warnings: fix them, or list them in tests/galaxy/kept-warnings.txt and say why in docs/galaxy.md:"
  printf '%s\n' "$new" | sed 's/^/   /'
  exit 1
fi
