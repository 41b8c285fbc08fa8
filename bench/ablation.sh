#!/usr/bin/env bash
# Ablation of the model's signals through the CLI: import a catalogue once, train one version per
# variant (each signal removed in turn, the original model's features, equal profile weights),
# score each with `songrec eval`, print one table.
#
#   bench/ablation.sh WORKDIR SONGS.jsonl --labels LABELS.tsv     real songs with labels
#   bench/ablation.sh WORKDIR SONGS.jsonl --truth TRUTH.tsv       a generated catalogue
#
# Environment: SONGREC (default target/release/songrec), ONLY (space-separated variant names to
# run, default all).
# Output: WORKDIR/ablation.tsv and the table on stdout (agreement of other artists'
# recommendations@10 with the label or scene, the per-label mean when labels are given, the
# same-artist share, coverage, the held-out hit rate, training seconds).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
W="${1:?usage: bench/ablation.sh WORKDIR SONGS.jsonl --labels|--truth FILE}"
SONGS="${2:?songs file}"
MODE="${3:?--labels or --truth}"
AGAINST="${4:?labels or truth file}"
case $MODE in --labels | --truth) ;; *) echo "third argument: --labels or --truth" >&2; exit 2 ;; esac
SONGREC="${SONGREC:-$ROOT/target/release/songrec}"
need_songrec

PROFILE_ROLES="w_label=0 w_publisher=0 w_engineer=0 w_production=0 w_musician=0 w_vocals=0 w_visual=0 w_other_role=0"
VARIANTS=(
    "full|"
    "original|--features original"
    "no artist profiles|artist_similarity=0"
    "profile: no collaborators|w_artist_circle=0"
    "profile: no description words|w_artist_terms=0"
    "profile: no roles|w_artist_roles=0"
    "profile: no crew|w_artist_crew=0"
    "profile: no labels|w_artist_labels=0"
    "profile: no tags|w_artist_tags=0"
    "profile: every part weight 1|w_artist_circle=1 w_artist_terms=1 w_artist_roles=1 w_artist_crew=1 w_artist_labels=1 w_artist_tags=1"
    "no featured, producer, writer credits|w_featured_artist=0 w_producer=0 w_writer=0"
    "no custom_performances on songs|$PROFILE_ROLES"
    "no song tags|w_tag=0 w_primary_tag=0"
    "no album|w_album=0"
    "no relationships|w_relationship=0 w_rel_sample=0 w_rel_interpolation=0 w_rel_cover=0"
    "no description|w_description=0"
    "no language, era, popularity|w_language=0 w_era=0 w_popularity=0"
)

mkdir -p "$W"
W="$(cd "$W" && pwd)"
DATA="$W/data"
rm -rf "$DATA"
"$SONGREC" --log warn --data-dir "$DATA" import "$SONGS" >&2

OUT="$W/ablation.tsv"
printf 'variant\tagreement_other\tmacro\tsame_artist\tcoverage\theldout_hit\ttrain_s\n' >"$OUT"
for entry in "${VARIANTS[@]}"; do
    name="${entry%%|*}"
    spec="${entry#*|}"
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" ${name%% *} "* ]]; then continue; fi
    args=()
    if [[ $spec == --features* ]]; then
        read -r -a args <<<"$spec"
    else
        for p in $spec; do args+=(--param "$p"); done
    fi
    start=$(date +%s.%N)
    train=$("$SONGREC" --log warn --data-dir "$DATA" train --promote never --json "${args[@]}")
    end=$(date +%s.%N)
    version=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' <<<"$train")
    eval=$("$SONGREC" --log warn --data-dir "$DATA" eval "$MODE" "$AGAINST" --version "$version" --json)
    python3 - "$name" "$train" "$eval" "$start" "$end" >>"$OUT" <<'EOF'
import json, sys
name, train, ev, start, end = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
agree = ev.get("label_agreement_other_artists_at_10", ev.get("scene_precision_other_artists_at_10"))
macro = ev.get("label_agreement_other_artists_macro")
fmt = lambda x: "-" if x is None else f"{x:.3f}"
print("\t".join([name, fmt(agree), fmt(macro), fmt(ev.get("same_artist_share_at_10")),
                 fmt(ev.get("coverage_at_10")), fmt(train["metrics"].get("heldout_hit_rate_at_10")),
                 f"{end - start:.1f}"]))
EOF
    tail -1 "$OUT" >&2
done
column -t -s $'\t' "$OUT"
