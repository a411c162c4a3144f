# scripts/prepare_common.sh: what the three dataset preparation scripts share (sourced, not run).
# The sourcing script sets NAME (for messages) and PAGE (the official download page) and defines
# usage(); then it calls prep_parse NARGS "$@" and finds its arguments in args[], with skip_md5,
# force, stopgrad (the binary for the final `stopgrad data info` check) and root set.

die() { echo "$NAME: $*" >&2; exit 1; }

# Options and NARGS positional arguments; also finds the stopgrad binary, before any long work.
prep_parse() {
    local nargs=$1 sg=""
    shift
    skip_md5=0 force=0
    args=()
    while [ $# -gt 0 ]; do
        case "$1" in
            --skip-md5) skip_md5=1; shift ;;
            --force) force=1; shift ;;
            --stopgrad) [ $# -ge 2 ] || { usage >&2; exit 2; }; sg=$2; shift 2 ;;
            -h|--help) usage; exit 0 ;;
            -*) echo "$NAME: unknown option '$1'" >&2; usage >&2; exit 2 ;;
            *) args+=("$1"); shift ;;
        esac
    done
    [ ${#args[@]} -eq "$nargs" ] || { usage >&2; exit 2; }
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    local c
    stopgrad=""
    for c in "$sg" "${STOPGRAD:-}" "$root/build/stopgrad" "$root/build-nocuda/stopgrad" \
             "$root/build-cuda/stopgrad" "$(command -v stopgrad || true)"; do
        if [ -n "$c" ] && [ -x "$c" ]; then stopgrad=$c; break; fi
    done
    [ -n "$stopgrad" ] || die "no stopgrad binary found (build it first, e.g. bash scripts/setup.sh, or pass --stopgrad PATH)"
}

# prep_md5 FILE EXPECTED OFFICIAL_NAME HINT: exits with what to do when the checksum differs.
prep_md5() {
    echo "$NAME: checking the MD5 of $1"
    local got
    got=$(md5sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        cat >&2 <<MSG
$NAME: MD5 MISMATCH for $1
  expected $2 ($3 as published)
  got      $got
The download is incomplete or corrupted, or it is not the official $3.
$4
If you re-packed the archive yourself (the official layout inside), rerun with --skip-md5.
MSG
        exit 1
    fi
    echo "$NAME: MD5 ok ($got)"
}

# prep_stage TARGET OUT: refuses an existing OUT unless --force, and makes the staging folder
# $stage inside TARGET (removed on exit), so that OUT appears only when complete.
prep_stage() {
    if [ -e "$2" ]; then
        [ "$force" -eq 1 ] || die "$2 already exists (remove it, or rerun with --force to replace it)"
        rm -rf "$2"
    fi
    mkdir -p "$1"
    stage=$(mktemp -d "$1/.$NAME-unpack.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
}
