#!/usr/bin/env bash
# Regenerates docs/results.md: runs every study the page reports into one result store (each command is a cache
# hit when neither the study nor the training code changed, so a second run trains nothing), then re-renders
# every table of the page from that store — with the command and the provenance (commit, toolkit, TorchSharp
# and libtorch versions, threads, engine, wall time) each came from — and the plots into docs/plots/.
# Prose outside the page's table/value marker comments is kept as written.
#   docs/results.sh             (from a clone; about an hour on two cores when nothing is cached)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

store=results/docs-store
# Options of every study command, in one place: the page shows each command as it ran.
opts=(--jobs 2 --threads 1)
commands="$store/commands.tsv"
mkdir -p "$store"
: > "$commands"

# run SCRIPT STUDY…: runs the script into the store and records its command for the studies it holds.
run() {
  local script=$1; shift
  local cmd="./warmstart run $script ${opts[*]} --out $store"
  echo "== $cmd" >&2
  ./warmstart run "$script" "${opts[@]}" --out "$store"
  for name in "$@"; do printf '%s\t%s\n' "$name" "$cmd" >> "$commands"; done
}

run studies/quickstart.fsx quickstart
run docs/fashion-mnist/half-then-all-logreg.fsx fmnist-logreg-half-then-all
run docs/fashion-mnist/half-then-all-logreg-budget.fsx fmnist-logreg-fresh-200
run docs/fashion-mnist/cnn-half-then-all.fsx fmnist-cnn-sgd fmnist-cnn-adam
run docs/fashion-mnist/online.fsx fmnist-online
run docs/fashion-mnist/active.fsx fmnist-active-margin fmnist-active-random

./warmstart report "$store" --page docs/results.md --commands "$commands" --plots docs/plots
