#!/usr/bin/env bash
# The files ansible-test sanity sees: what git tracks, and new files it does not
# ignore, copied under DEST. Never a .ansible/ directory, also where .gitignore
# lacks it: ansible-lint keeps a copy of the collection there, and sanity would
# test that copy as the collection's own files.
#   usage: tests/sanity/copy_tree.sh DEST   (from the repository's root)
set -euo pipefail
dest=$1
mkdir -p "$dest"
# cp fails only for tracked files deleted in the work tree: those are not copied.
git ls-files -z --cached --others --exclude-standard -- . ':(exclude,glob)**/.ansible/**' \
  | xargs -0 -r cp --parents -t "$dest" 2>/dev/null || true
