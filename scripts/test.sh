#!/usr/bin/env bash
# shellcheck disable=SC2317 # the check functions run through step()
# Checks and tests Berth: gofmt, go vet, staticcheck, shellcheck, make, then
# every unit and integration test (go test ./...). Integration tests need root
# and the tools scripts/setup.sh installs. Every step runs even when an earlier
# one fails, and a summary closes the output; the exit status is 1 if any
# step failed.
#
# BERTH_SKIP_VALIDATION=1 skips the OCI validation suite (about 2 minutes):
# for quick local runs only, never in CI.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# shellcheck source=scripts/env.sh
. scripts/env.sh

summary=()
failed=0
step() {
	local name=$1
	shift
	echo "==> $name"
	if "$@"; then
		summary+=("ok    $name")
	else
		summary+=("FAIL  $name")
		failed=1
	fi
}

go_files() {
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files --cached --others --exclude-standard -- '*.go' | while read -r f; do
			[[ -f $f ]] && printf '%s\n' "$f"
		done
	else
		find . -name '*.go' -not -path './.git/*'
	fi
}

check_gofmt() {
	local out
	out=$(go_files | xargs -r gofmt -l) || return 1
	[[ -z $out ]] && return 0
	echo "gofmt needed:"
	echo "$out"
	return 1
}

check_shell() {
	local scripts=(.ci/run scripts/*.sh bench/*.sh test/vm/*.sh) s
	for s in "${scripts[@]}"; do
		bash -n "$s" || return 1
	done
	command -v shellcheck >/dev/null || { echo "shellcheck not found: run scripts/setup.sh"; return 1; }
	shellcheck -x "${scripts[@]}"
}

have_staticcheck() {
	command -v staticcheck >/dev/null || { echo "staticcheck not found: run scripts/setup.sh"; return 1; }
	staticcheck ./...
}

log=$(mktemp /tmp/berth-test.XXXXXX)
trap 'rm -f "$log"' EXIT
run_tests() {
	# -v streams long tests' logs (the validation suite) and lets the summary
	# count tests; the timeout is generous for a 2-core machine.
	go test -count=1 -timeout 45m -v ./... 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

# failure_details prints, for each failed test without a failed subtest,
# what the test itself reported: first the lines that name a failure
# (including those of a nested run, such as the VM's guest tests), then its
# last file.go:N: messages, each with a few continuation lines, else its
# last lines. CI shows only the end of the output, and parallel tests
# interleave, so the names alone would not say what went wrong.
failure_details() {
	awk '
	/^=== (RUN|CONT|NAME|PAUSE) / { cur = $3; cont = 0; next }
	/^[[:space:]]*--- (PASS|SKIP)/ { next }
	/^[[:space:]]*--- FAIL: / { failed[++n] = $3; next }
	cur == "" { next }
	{ line = substr($0, 1, 220); lines[cur, ++count[cur]] = line }
	# A nested run (the VM guest tests) streams through t.Log: keep its
	# messages since its last === RUN, and keep them when its test fails.
	/\.go:[0-9]+: +=== RUN/ { nbuf[cur] = 0 }
	/_test\.go:[0-9]+: .*_test\.go:[0-9]+: / && nbuf[cur] < 6 { buf[cur, ++nbuf[cur]] = line }
	/--- FAIL|panic:|[Ee]rror Trace|^[[:space:]]+[[:alnum:]_.-]+\.go:[0-9]+: +(FAIL|vmtest: FAIL)/ {
		for (b = 1; b <= nbuf[cur]; b++) key[cur, ++nkey[cur]] = buf[cur, b]
		nbuf[cur] = 0
		key[cur, ++nkey[cur]] = line
	}
	/^[[:space:]]+[[:alnum:]_.-]+\.go:[0-9]+: / { msg[cur, ++nmsg[cur]] = line; cont = 3; next }
	cont > 0 { msg[cur, ++nmsg[cur]] = line; cont-- }
	END {
		shown = 0
		for (i = 1; i <= n && shown < 4; i++) {
			f = failed[i]; leaf = 1
			for (j = 1; j <= n; j++)
				if (index(failed[j], f "/") == 1) leaf = 0
			if (!leaf) continue
			shown++
			print "      failed: " f
			for (k = 1; k <= nkey[f] && k <= 12; k++) print "        " key[f, k]
			if (nmsg[f] > 0) {
				from = nmsg[f] - 11; if (from < 1) from = 1
				for (k = from; k <= nmsg[f]; k++) print "        " msg[f, k]
				continue
			}
			from = count[f] - 10; if (from < 1) from = 1
			for (k = from; k <= count[f]; k++) print "        " lines[f, k]
		}
	}' "$1"
}

step gofmt check_gofmt
step "go vet" go vet ./...
step staticcheck have_staticcheck
step shellcheck check_shell
# Integration tests run the freshly built binaries in ./bin.
step make make build
step "go test" run_tests

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
grep -E '^(FAIL|ok)[[:space:]]' "$log" | grep '^FAIL' | sed 's/^/      /' || true
grep -E '^[[:space:]]*--- SKIP' "$log" | sed 's/^[[:space:]]*--- SKIP: /      skipped: /' || true
failure_details "$log"
passed=$(grep -cE '^[[:space:]]*--- PASS' "$log")
fails=$(grep -cE '^[[:space:]]*--- FAIL' "$log")
skips=$(grep -cE '^[[:space:]]*--- SKIP' "$log")
echo "tests: $passed passed, $fails failed, $skips skipped"
exit "$failed"
