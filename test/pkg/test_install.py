#!/usr/bin/env python3
"""The installed package works for a consumer.

Usage: test_install.py <build dir>   (env MESON: the meson command; CC: compiler)

1. `meson install --destdir` into a temporary directory; the headers,
   libdapr.so (with its SONAME links), libdapr.a, daprd, placement and
   dapr.pc must be there, and libdapr.so's SONAME must be libdapr.so.0.
2. `pkg-config --cflags --libs dapr` (and --static) resolve from that tree
   (PKG_CONFIG_PATH + PKG_CONFIG_SYSROOT_DIR pointing into it).
3. Every examples/*.c builds with nothing but those flags (-Wall -Wextra
   -Werror), linked to the installed libdapr.so (rpath into the destdir),
   and state_counter once more against libdapr.a with the --static flags.
4. The examples run (test/pkg/examples.py), with the installed daprd and
   placement as their peers.
A libdapr built with sanitizers needs sanitized consumers: the same
-fsanitize flags are added then (detected from libdapr.so's NEEDED entries).
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import examples  # noqa: E402

SRC = Path(__file__).resolve().parents[2]
HEADERS = ["dapr.h", "common.h", "runtime.h", "state.h", "component.h", "invoke.h", "pubsub.h",
           "actors.h"]


def sh(cmd, env=None, check=True):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=env, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}")
    return p.stdout


def find_one(root, pattern):
    hits = sorted(root.rglob(pattern))
    if not hits:
        raise AssertionError(f"{pattern} not installed under {root}")
    return hits[0]


def main():
    build = Path(sys.argv[1]).resolve()
    meson = shlex.split(os.environ.get("MESON", "meson"))
    cc = os.environ.get("CC", "cc")
    # meson test points LD_LIBRARY_PATH at the build tree, which would win
    # over the examples' RUNPATH: the installed copy must be found alone
    os.environ.pop("LD_LIBRARY_PATH", None)
    dest = Path(tempfile.mkdtemp(prefix="libdapr-install-"))
    failures = []
    try:
        sh(meson + ["install", "-C", str(build), "--destdir", str(dest), "--no-rebuild",
                    "--quiet"])
        # 1. the files
        inc = find_one(dest, "dapr.h").parent
        for h in HEADERS:
            if not (inc / h).is_file():
                failures.append(f"header {h} not installed")
        so = find_one(dest, "libdapr.so")
        libdir = so.parent
        for f in ["libdapr.so.0", "libdapr.a", "pkgconfig/dapr.pc"]:
            if not (libdir / f).exists():
                failures.append(f"{f} not installed in {libdir}")
        daprd = find_one(dest, "daprd")
        placement = find_one(dest, "placement")
        soname = sh(["readelf", "-d", str(so)])
        if "[libdapr.so.0]" not in soname:
            failures.append(f"SONAME is not libdapr.so.0:\n{soname}")
        sanitized = "libasan" in soname or "libubsan" in soname
        print(f"installed: {inc}, {so}, {daprd}, {placement}")

        # 2. pkg-config from the install tree
        env = dict(os.environ)
        env["PKG_CONFIG_PATH"] = str(libdir / "pkgconfig")
        env["PKG_CONFIG_SYSROOT_DIR"] = str(dest)
        cflags = shlex.split(sh(["pkg-config", "--cflags", "dapr"], env=env))
        libs = shlex.split(sh(["pkg-config", "--libs", "dapr"], env=env))
        static_libs = shlex.split(sh(["pkg-config", "--static", "--libs", "dapr"], env=env))
        print("pkg-config --cflags --libs dapr:", " ".join(cflags + libs))
        print("pkg-config --static --libs dapr:", " ".join(static_libs))
        if f"-I{inc.parent}" not in cflags:
            failures.append(f"--cflags lacks -I{inc.parent}")
        if "-ldapr" not in libs or f"-L{libdir}" not in libs:
            failures.append(f"--libs lacks -L{libdir} -ldapr")
        extra = ["-Wall", "-Wextra", "-Werror", "-g"]
        if sanitized:
            extra += ["-fsanitize=address,undefined"]

        # 3. build the examples as a consumer would
        bindir = dest / "examples"
        bindir.mkdir()
        built = {}
        for name in examples.RUNNERS:
            out = bindir / name
            try:
                sh([cc, *extra, str(SRC / "examples" / f"{name}.c"), *cflags, *libs,
                    f"-Wl,-rpath,{libdir}", "-o", str(out)])
            except AssertionError as e:
                failures.append(f"building {name}: {e}")
                continue
            ldd = sh(["ldd", str(out)])
            if str(libdir / "libdapr.so.0") not in ldd:
                failures.append(f"{name} does not load the installed libdapr.so.0:\n{ldd}")
            built[name] = out
        # a static link: libdapr.a plus Libs.private/Requires.private
        static_out = bindir / "state_counter_static"
        static_flags = ["-l:libdapr.a" if f == "-ldapr" else f for f in static_libs]
        try:
            sh([cc, *extra, str(SRC / "examples/state_counter.c"), *cflags, *static_flags,
                "-o", str(static_out)])
            if "libdapr" in sh(["ldd", str(static_out)]):
                failures.append("the static build still loads libdapr.so")
            built["state_counter (static)"] = static_out
        except AssertionError as e:
            failures.append(f"building state_counter against libdapr.a: {e}")

        # 4. run them
        runs = {"state_counter": examples.state_counter,
                "state_counter (static)": examples.state_counter,
                "order_pubsub": examples.order_pubsub,
                "embedded_app": lambda exe: examples.embedded_app(exe, daprd=str(daprd)),
                "actor_bank": lambda exe: examples.actor_bank(exe, placement=str(placement))}
        for what, fn in runs.items():
            if what not in built:
                continue
            try:
                fn(str(built[what]))
                print(f"ok   {what}")
            except AssertionError as e:
                failures.append(f"{what}: {e}")
                print(f"FAIL {what}")
    except AssertionError as e:
        failures.append(str(e))
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("install test:", "FAILED" if failures else "OK")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
