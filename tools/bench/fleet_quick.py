#!/usr/bin/env python3
# A stopgap until `alexfs-bench fleet` exists: the fleet figures of the README
# from two mounts A and B of one etcd prefix and a single-node mount S, all
# already mounted, and etcd's client URL (for the etcdctl loop).
#   tools/bench/fleet_quick.py A_MNT B_MNT S_MNT ETCD_URL
# Prints: write+fsync on A -> content readable on B (p50/p99), write+fsync
# rate on A, an `etcdctl put` loop (one process per put, as a shell loop
# would), and cached cat (open+read+close) on B, A and S, alternated.
import os, subprocess, sys, time

a, b, s, url = sys.argv[1:5]
lags, commits = [], []
for i in range(300):
    data = b'v%d' % i
    t0 = time.perf_counter()
    fd = os.open(os.path.join(a, 'cfg'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    t1 = time.perf_counter()
    while True:
        try:
            with open(os.path.join(b, 'cfg'), 'rb') as f:
                if f.read() == data:
                    break
        except OSError:
            pass
    commits.append(t1 - t0)
    lags.append(time.perf_counter() - t0)
lags.sort()
commits.sort()
q = lambda v, p: v[int(p * (len(v) - 1))] * 1000
print('write+fsync on A -> readable on B: p50 %.2f ms, p99 %.2f ms' % (q(lags, .5), q(lags, .99)))
print('durable updates through the mount (write+fsync, 1 writer): %.0f/s' %
      (len(commits) / sum(commits)))
n = 100
t0 = time.perf_counter()
env = dict(os.environ, ETCDCTL_API='3')
for i in range(n):
    subprocess.run(['etcdctl', '--endpoints=' + url, 'put', '/fleet-quick/k', 'v%d' % i],
                   stdout=subprocess.DEVNULL, env=env, check=True)
print('etcdctl put loop: %.0f/s' % (n / (time.perf_counter() - t0)))
with open(os.path.join(s, 'cfg'), 'wb') as f:
    f.write(b'single')
for label, root in (('B', b), ('A', a), ('single-node', s)) * 2:
    path = os.path.join(root, 'cfg')
    n = 20000
    t0 = time.perf_counter()
    for i in range(n):
        with open(path, 'rb') as f:
            f.read()
    print('cached cat on %s: %.0f/s' % (label, n / (time.perf_counter() - t0)))
