#!/usr/bin/env bash
# Every long option that a tool's --help lists (and, for tools with subcommands, every
# subcommand's --help) must appear in the tool's man page, man/man1/<tool>.1.
# Fails listing the missing ones.
set -u
src=${FSH_SOURCE_DIR:?FSH_SOURCE_DIR must be set}
bindir=$(dirname "$(command -v fsh-episodes)")
missing=0
checked=0

# The man page as plain text with roff escapes for '-' undone.
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }

long_options() {  # stdin: --help text; stdout: one long option per line
  grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

subcommands() {  # stdin: --help text; stdout: names listed under "Subcommands:"
  awk '/^Subcommands:/ {on = 1; next} on && /^[^ ]/ {on = 0} on && NF {print $1}'
}

for tool in "$bindir"/fsh-*; do
  [ -x "$tool" ] || continue
  name=$(basename "$tool")
  page="$src/man/man1/$name.1"
  if [ ! -f "$page" ]; then
    echo "FAIL $name: no man page $page" >&2
    missing=$((missing + 1))
    continue
  fi
  text=$(man_text "$page")
  help=$("$tool" --help)
  helps=("$help")
  labels=("$name")
  for sub in $(printf '%s\n' "$help" | subcommands); do
    helps+=("$("$tool" "$sub" --help)")
    labels+=("$name $sub")
  done
  for i in "${!helps[@]}"; do
    for opt in $(printf '%s\n' "${helps[$i]}" | long_options); do
      checked=$((checked + 1))
      if ! grep -q -- "$opt\([^a-z0-9-]\|$\)" <<<"$text"; then
        echo "FAIL ${labels[$i]}: $opt is not in $page" >&2
        missing=$((missing + 1))
      fi
    done
  done
done
echo "$checked options checked, $missing missing"
[ $missing -eq 0 ]
