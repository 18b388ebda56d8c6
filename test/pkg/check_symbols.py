#!/usr/bin/env python3
"""The ABI of libdapr.so is exactly what include/dapr/*.h declares.

Usage: check_symbols.py <libdapr.so> <include/dapr dir>

Compares the dynamic symbols libdapr.so defines (nm -D --defined-only) with
the functions the public headers declare DAPR_EXTERN, in both directions:
 - every declared function is exported (a missing one is an unimplemented or
   hidden public function: a consumer would fail to link);
 - nothing else is exported (an extra symbol is an internal function or a
   bundled library leaking into the ABI).
Prints both lists and exits 1 if either is non-empty.
"""
import re
import subprocess
import sys
from pathlib import Path

# Symbols every ELF shared object defines; not part of anyone's API.
LINKER_SYMBOLS = {"_init", "_fini", "__bss_start", "_edata", "_end"}

# DAPR_EXTERN <return type> <name>(...   — the type may span '*' and words,
# the declaration may wrap over several lines.
DECL = re.compile(r"\bDAPR_EXTERN\b([^;{}()]*?)\b(dapr_\w+)\s*\(", re.S)


def declared(include_dir):
    names = {}
    for h in sorted(Path(include_dir).glob("*.h")):
        text = h.read_text()
        # drop comments so commented-out declarations do not count
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        for m in DECL.finditer(text):
            names.setdefault(m.group(2), h.name)
    return names


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2].split("@")[0]
        if name in LINKER_SYMBOLS:
            continue
        syms[name] = kind
    return syms


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    lib, inc = sys.argv[1], sys.argv[2]
    decl = declared(inc)
    exp = exported(lib)
    if not decl:
        print(f"no DAPR_EXTERN declarations found under {inc}")
        return 1
    missing = sorted(set(decl) - set(exp))
    extra = sorted(set(exp) - set(decl))
    not_code = sorted(n for n in decl if n in exp and exp[n] not in ("T", "W", "i"))
    print(f"{len(decl)} functions declared, {len(exp)} symbols exported by {lib}")
    for n in missing:
        print(f"MISSING  {n}  (declared in {decl[n]}, not exported)")
    for n in extra:
        print(f"EXTRA    {n}  (exported as {exp[n]}, declared nowhere in include/dapr)")
    for n in not_code:
        print(f"NOT CODE {n}  (exported as {exp[n]}, declared as a function)")
    bad = len(missing) + len(extra) + len(not_code)
    print(f"{len(decl) - len(missing)} of {len(decl)} declared functions exported, "
          f"{len(extra)} extra symbol(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
