#!/usr/bin/env python3
"""Start-up A/B for issue 14: runs drhost binaries alternately, N times each.

    python3 tests/benches/ab-startup.py N version|hello BIN [BIN...]

`version` is `BIN --version`; `hello` a cached `BIN run plugins/hello.wasm`
(its own cache per binary, warmed twice first) with hello's grants. Prints
the median wall time (fork+exec from here to `wait4`) and the median CPU
(the child's user+sys) per binary. Needs `make build` (signed plugins,
.lab/trust.toml)."""
import os, sys, time, statistics, shutil, tempfile
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
n = int(sys.argv[1]); mode = sys.argv[2]; bins = sys.argv[3:]
hello = os.path.join(root, "plugins/hello.wasm")
env = dict(os.environ); env.pop("DRHOST_CONFIG", None)
env["DRHOST_TRUST"] = os.path.join(root, ".lab/trust.toml")
cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
cfg.write('[[plugins.hello.shell]]\nprogram = "echo"\nargs = ["**"]\n[[plugins.hello.http]]\nhost = "127.0.0.1:*"\n')
cfg.close()
res = {b: [] for b in bins}; cpu = {b: [] for b in bins}
caches = {b: tempfile.mkdtemp(prefix="drhost-ab-cache-", dir="/tmp") for b in bins}
def argv(b, jd):
    if mode == "version": return [b, "--version"]
    return [b, "run", hello, "--config", cfg.name, "--quiet", "--journal-dir", jd, "--cache-dir", caches[b]]
def once(b):
    jd = tempfile.mkdtemp(prefix="drhost-ab-journal-", dir="/tmp")
    e = dict(env); e["DRHOST_LOCK"] = jd + "/drhost.lock"
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open("/dev/null", os.O_RDWR); os.dup2(fd, 0); os.dup2(fd, 1); os.dup2(fd, 2)
        os.chdir("/tmp"); os.execve(b, argv(b, jd), e)
    _, st, ru = os.wait4(pid, 0)
    w = time.perf_counter() - t
    shutil.rmtree(jd)
    assert os.waitstatus_to_exitcode(st) == 0, (b, st)
    return w, ru.ru_utime + ru.ru_stime
for b in bins: once(b); once(b)
for i in range(n):
    for b in (bins if i % 2 == 0 else bins[::-1]):
        w, c = once(b); res[b].append(w); cpu[b].append(c)
for b in bins:
    print(f"{mode:8} {b:40} wall median {statistics.median(res[b])*1000:.2f} ms  cpu median {statistics.median(cpu[b])*1000:.2f} ms  (n={n})")
for c in caches.values(): shutil.rmtree(c)
os.unlink(cfg.name)
