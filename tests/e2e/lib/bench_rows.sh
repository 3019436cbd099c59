# tests/e2e/lib/bench_rows.sh -- issue 15's table across the benchmarks:
# bench_row NAME KILN RUNC RATIO TARGET appends a tab-separated row to
# $KILN_BENCH_ROWS (when set: `make bench` sets it and prints the table
# last with bench_rows_print).

bench_row() {
	[[ -n ${KILN_BENCH_ROWS:-} ]] || return 0
	printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$KILN_BENCH_ROWS"
}

bench_rows_print() {
	[[ -s $1 ]] || return 0
	echo
	echo "issue 15's targets (kiln next to runc, this run):"
	awk -F'\t' 'BEGIN {printf "%-44s %14s %14s %8s  %s\n", "measure", "kiln", "runc", "ratio", "target"}
		{printf "%-44s %14s %14s %8s  %s\n", $1, $2, $3, $4, $5}' "$1"
}
