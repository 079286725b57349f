#!/usr/bin/env python3
# Lists the system calls sandboxed spokes made after loading the seccomp filter,
# from `strace -f -qq -o TRACE ./sandbox.test -test.run "TestReady|TestHostileSpokes"`.
# Usage: strace_syscalls.py TRACE... (see docs/sandbox.md, "Deriving the allow-list").
# Threads are attributed to the process whose pending thread clone precedes their
# first line (clone returns PID-namespace ids, so return values cannot be used).
import re,sys,collections
line_re=re.compile(r'^(\d+)\s+(.*)$')
used=collections.Counter()
for path in sys.argv[1:]:
    lines=open(path,errors='replace').read().split('\n')
    parent={}; pend=[]; seen=set(); filtered=set()
    def tg(p):
        while p in parent: p=parent[p]
        return p
    for line in lines:
        m=line_re.match(line)
        if not m: continue
        pid=int(m.group(1)); rest=m.group(2)
        if pid not in seen:
            seen.add(pid)
            if pend: parent[pid]=pend[-1]
        rm=re.match(r'<\.\.\. (\w+) resumed>', rest)
        nm=re.match(r'(\w+)\(', rest)
        name = rm.group(1) if rm else (nm.group(1) if nm else None)
        if name in ('clone','clone3'):
            if 'unfinished' in rest and 'CLONE_THREAD' in rest: pend.append(pid)
            elif rm and pid in pend: pend.remove(pid)
        if rm or not nm: continue
        t=tg(pid)
        if t in filtered: used[name]+=1
        if name=='seccomp' and 'SECCOMP_SET_MODE_FILTER' in rest: filtered.add(t)
for k,v in sorted(used.items()): print(k,v)
