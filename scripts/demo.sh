#!/usr/bin/env bash
# Builds a tiny Python repository in demo/repo and runs orx on it with the embedded demo
# scenario of the fake engine (named in orx.yaml and with --engine fake: orx never falls back to
# it): plan, spec, decompose (two items), implement with a bug, a gate failure, a fix, review,
# ship and knowledge update. Needs only git and python3.
set -euo pipefail
orx="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
root="$(pwd)/demo"
rm -rf "$root"
mkdir -p "$root/repo"
cd "$root/repo"
git init -q -b main
git config user.email demo@example.invalid
git config user.name "orx demo"
mkdir -p calc tests
printf '"""A tiny calculator package."""\n' > calc/__init__.py
: > tests/__init__.py
printf '# calc\n\nA tiny calculator used by the orx demo.\n' > README.md
cat > orx.yaml <<'YAML'
version: "1"
engine:
  type: fake          # the scripted engine; its default scenario is examples/demo/scenario.yaml
git:
  base_branch: main
gates:
  - name: compile
    command: python3 -m compileall -q calc tests
  - name: unittest
    command: python3 -m unittest discover -s tests -t .
    parser: unittest
run:
  max_fix_attempts: 2
YAML
git add -A && git commit -q -m "calc: empty package"
echo "demo repository: $root/repo"
set +e
"$orx" run "Add add() and mul() to the calc package, with unit tests" --engine fake --no-progress
code=$?
set -e
echo
"$orx" status
echo
echo "exit code $code. Look around:"
echo "  cd $root/repo && git log --oneline orx/\$(ls runs | tail -1)"
echo "  ls $root/repo/runs/*/"
exit $code
