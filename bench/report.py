#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only).

  report.py record --tool T --capture C --rep N --dir RUNDIR --truth TRUTH.json
      Read RUNDIR/time.txt (GNU time: "user sys wall maxrss_kb") and the tool's
      own output in RUNDIR, print one JSON object (one line) describing the run.
  report.py summary --runs RUNS.jsonl --out OUT.json [--meta META.json]
      Print one Markdown table per capture (medians over repetitions) and write
      all raw numbers to OUT.json.

The upload is the flow 10.0.0.5:50386 -> 203.0.113.50:443 (TCP). For the
NetFlow tools (softflowd via nfcapd, nfpcapd) records are unidirectional and
their byte counters are IP bytes (IPv4 total length). vigil's EVE
flow.bytes_toserver counts frame bytes (Ethernet header included), like
Suricata.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

UP_SRC, UP_SPORT, UP_DST, UP_DPORT = '10.0.0.5', 50386, '203.0.113.50', 443
NF_FILTER = (f'proto tcp and src ip {UP_SRC} and src port {UP_SPORT} '
             f'and dst ip {UP_DST} and dst port {UP_DPORT}')


def read_time(path):
    with open(path) as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    # GNU time prints "Command exited with non-zero status N" before the format line
    user, sys_, wall, rss = lines[-1].split()[:4]
    return dict(user_s=float(user), sys_s=float(sys_), wall_s=float(wall), max_rss_kb=int(rss))


def nfdump_dir(d):
    """Records in an nfdump directory: total count and the upload's records."""
    out = dict(records_total=None, upload=None)
    if not os.path.isdir(d) or not os.listdir(d):
        return out
    st = subprocess.run(['nfdump', '-R', d, '-I'], capture_output=True, text=True)
    m = re.search(r'^Flows:\s*(\d+)', st.stdout, re.M)
    if m:
        out['records_total'] = int(m.group(1))
    q = subprocess.run(['nfdump', '-R', d, '-q', '-N', '-o', 'fmt:%pkt|%byt', NF_FILTER],
                       capture_output=True, text=True, check=True)
    recs = []
    for ln in q.stdout.splitlines():
        parts = [p.strip() for p in ln.split('|')]
        if len(parts) == 2 and parts[0].isdigit():
            recs.append((int(parts[0]), int(parts[1])))
    out['upload'] = upload_summary(recs, 'ip')
    return out


def upload_summary(recs, convention):
    """recs: list of (packets, bytes) in the client->server direction."""
    largest = max(recs, key=lambda r: r[1]) if recs else (0, 0)
    return dict(records=len(recs), largest_bytes=largest[1], largest_packets=largest[0],
                sum_bytes=sum(r[1] for r in recs), sum_packets=sum(r[0] for r in recs),
                bytes_convention=convention)


def vigil_eve(path):
    """Stream the EVE file: count flow events, pick the upload's records."""
    out = dict(records_total=0, upload=None, stats=None)
    recs = []
    if not os.path.exists(path):
        return out
    with open(path, 'rb') as fh:
        for line in fh:
            if b'"event_type":"flow"' in line or b'"event_type": "flow"' in line:
                out['records_total'] += 1
                if b'10.0.0.5' not in line or b'203.0.113.50' not in line:
                    continue
                ev = json.loads(line)
                f = ev.get('flow', {})
                s, sp, d, dp = ev.get('src_ip'), ev.get('src_port'), ev.get('dest_ip'), ev.get('dest_port')
                if (s, sp, d, dp) == (UP_SRC, UP_SPORT, UP_DST, UP_DPORT):
                    recs.append((f.get('pkts_toserver', 0), f.get('bytes_toserver', 0)))
                elif (d, dp, s, sp) == (UP_SRC, UP_SPORT, UP_DST, UP_DPORT):
                    recs.append((f.get('pkts_toclient', 0), f.get('bytes_toclient', 0)))
            elif b'"event_type":"stats"' in line or b'"event_type": "stats"' in line:
                try:
                    out['stats'] = json.loads(line).get('stats')
                except ValueError:
                    pass
    out['upload'] = upload_summary(recs, 'frame')
    return out


def softflowd_stdout(path):
    """softflowd prints its statistics on stdout when it ends a -r run."""
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    m = re.search(r'Flows exported: (\d+) \((\d+) records\) in (\d+) packets \((\d+) failures\)', text)
    if m:
        out.update(flows_exported=int(m.group(1)), records_exported=int(m.group(2)),
                   export_packets=int(m.group(3)), export_failures=int(m.group(4)))
    m = re.search(r'Packets processed: (\d+)', text)
    if m:
        out['packets_processed'] = int(m.group(1))
    m = re.search(r'Flows expired: (\d+) \((\d+) forced\)', text)
    if m:
        out['flows_expired'], out['flows_forced'] = int(m.group(1)), int(m.group(2))
    return out


def nfpcapd_log(path):
    out = {}
    try:
        text = open(path).read()
    except OSError:
        return out
    m = re.search(r'Total: Processed: (\d+), skipped: (\d+), short caplen: (\d+), unknown: (\d+)', text)
    if m:
        out.update(packets_processed=int(m.group(1)), skipped=int(m.group(2)),
                   short_caplen=int(m.group(3)), unknown=int(m.group(4)))
    return out


def cmd_record(a):
    truth = json.load(open(a.truth))
    packets = truth['packets']
    d = a.dir
    r = dict(capture=a.capture, tool=a.tool, rep=a.rep, packets=packets, file_bytes=truth['file_bytes'])
    r.update(read_time(os.path.join(d, 'time.txt')))
    cpu = r['user_s'] + r['sys_s']
    r['cpu_s'] = round(cpu, 3)
    r['pps_cpu'] = packets / cpu if cpu > 0 else None
    r['pps_wall'] = packets / r['wall_s'] if r['wall_s'] > 0 else None
    r['peak_rss_mb'] = r['max_rss_kb'] / 1024
    if os.path.exists(os.path.join(d, 'exit_status')):
        r['exit_status'] = int(open(os.path.join(d, 'exit_status')).read().strip() or 0)
    if a.tool == 'softflowd':
        r['softflowd'] = softflowd_stdout(os.path.join(d, 'softflowd.out'))
        r.update(nfdump_dir(os.path.join(d, 'flows')))
        if os.path.exists(os.path.join(d, 'nfcapd.time.txt')):
            r['collector'] = read_time(os.path.join(d, 'nfcapd.time.txt'))
        extra = os.path.join(d, 'collector.json')
        if os.path.exists(extra):
            r.setdefault('collector', {}).update(json.load(open(extra)))
        sent = r['softflowd'].get('records_exported')
        if sent is not None and r.get('records_total') is not None:
            r['records_lost_in_transport'] = sent - r['records_total']
    elif a.tool == 'nfpcapd':
        r['nfpcapd'] = nfpcapd_log(os.path.join(d, 'nfpcapd.log'))
        r.update(nfdump_dir(os.path.join(d, 'flows')))
    elif a.tool.startswith('vigil'):
        r.update(vigil_eve(os.path.join(d, 'eve.jsonl')))
    if 'exfil' in truth:
        r['upload_truth'] = dict(frame_bytes=truth['exfil']['client_to_server']['frame_bytes'],
                                 ip_bytes=truth['exfil']['client_to_server']['ip_bytes'],
                                 packets=truth['exfil']['client_to_server']['packets'])
    print(json.dumps(r, sort_keys=True))


def fmt_rate(v):
    if v is None:
        return '-'
    if v >= 1e6:
        return f'{v / 1e6:.2f}M'
    if v >= 1e3:
        return f'{v / 1e3:.0f}k'
    return f'{v:.0f}'


def fmt_bytes(v):
    return f'{v:,}'


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cmd_summary(a):
    runs = [json.loads(ln) for ln in open(a.runs) if ln.strip()]
    meta = json.load(open(a.meta)) if a.meta and os.path.exists(a.meta) else {}
    order = ['cat', 'vigil', 'vigil1', 'vigilcore', 'vigilcore1', 'vigilstore', 'softflowd', 'nfpcapd']
    result = dict(meta=meta, captures={})
    lines = []
    for cap in dict.fromkeys(r['capture'] for r in runs):
        rs = [r for r in runs if r['capture'] == cap]
        tools = sorted(dict.fromkeys(r['tool'] for r in rs), key=lambda t: order.index(t) if t in order else 99)
        truth_up = next((r.get('upload_truth') for r in rs if r.get('upload_truth')), None)
        summ = {}
        for t in tools:
            tr = [r for r in rs if r['tool'] == t]
            s = dict(reps=len(tr), pps_cpu=med([r['pps_cpu'] for r in tr]),
                     pps_wall=med([r['pps_wall'] for r in tr]),
                     cpu_s=med([r['cpu_s'] for r in tr]), wall_s=med([r['wall_s'] for r in tr]),
                     peak_rss_mb=max(r['peak_rss_mb'] for r in tr),
                     records_total=med([r.get('records_total') for r in tr]))
            ups = [r['upload'] for r in tr if r.get('upload')]
            if ups:
                s['upload'] = ups[-1]
            # ratio to softflowd, paired per repetition (runs are interleaved)
            sf = {r['rep']: r['pps_cpu'] for r in rs if r['tool'] == 'softflowd' and r['pps_cpu']}
            pair = [r['pps_cpu'] / sf[r['rep']] for r in tr if r['rep'] in sf and r['pps_cpu']]
            s['ratio_to_softflowd_pps_cpu'] = med(pair)
            lost = [r.get('records_lost_in_transport') for r in tr if r.get('records_lost_in_transport') is not None]
            if lost:
                s['records_lost_in_transport'] = max(lost)
            summ[t] = s
        pk = rs[0]['packets']
        result['captures'][cap] = dict(packets=pk, file_bytes=rs[0]['file_bytes'], upload_truth=truth_up,
                                       summary=summ, runs=rs)
        lines.append(f'### {cap}: {pk:,} packets, {rs[0]["file_bytes"] / 1e9:.2f} GB'
                     + (f', reps={max(r["rep"] for r in rs)} (medians)' if max(r['rep'] for r in rs) > 1 else ''))
        lines.append('')
        lines.append('| tool | pps/CPU-s | wall pps | CPU s | wall s | peak RSS | records | upload records (count, largest bytes) | × softflowd pps/CPU-s |')
        lines.append('|---|---|---|---|---|---|---|---|---|')
        for t in tools:
            s = summ[t]
            name = 'cat > /dev/null (floor)' if t == 'cat' else t
            if t == 'softflowd' and meta.get('softflowd_max_flows'):
                name += f' -m {meta["softflowd_max_flows"]}'
            if t == 'cat' or 'upload' not in s or truth_up is None:
                up = '-' if t == 'cat' else ('no upload in capture' if truth_up is None else 'n/a')
            else:
                u = s['upload']
                conv = 'IP bytes' if u['bytes_convention'] == 'ip' else 'frame bytes'
                want = truth_up['ip_bytes'] if u['bytes_convention'] == 'ip' else truth_up['frame_bytes']
                exact = ' exact' if u['records'] == 1 and u['largest_bytes'] == want else ''
                up = f'{u["records"]}, {fmt_bytes(u["largest_bytes"])} {conv}{exact}'
            rec = '-' if s['records_total'] is None else f'{int(s["records_total"]):,}'
            if s.get('records_lost_in_transport'):
                rec += f' ({s["records_lost_in_transport"]:,} lost to nfcapd)'
            ratio = '-' if s['ratio_to_softflowd_pps_cpu'] is None or t == 'cat' else f'{s["ratio_to_softflowd_pps_cpu"]:.2f}'
            lines.append(f'| {name} | {fmt_rate(s["pps_cpu"])} | {fmt_rate(s["pps_wall"])} | {s["cpu_s"]:.2f} | '
                         f'{s["wall_s"]:.2f} | {s["peak_rss_mb"]:.0f} MB | {rec} | {up} | {ratio} |')
        if truth_up:
            lines.append('')
            lines.append(f'Upload truth (client→server): {truth_up["packets"]:,} packets, '
                         f'{truth_up["ip_bytes"]:,} IP bytes (NetFlow convention: softflowd, nfpcapd), '
                         f'{truth_up["frame_bytes"]:,} frame bytes (EVE bytes_toserver: vigil).')
        if 'vigil' in summ and 'softflowd' in summ and summ['vigil']['ratio_to_softflowd_pps_cpu']:
            lines.append('')
            lines.append(f'vigil / softflowd, packets per CPU-second: {summ["vigil"]["ratio_to_softflowd_pps_cpu"]:.2f}')
        lines.append('')
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    result['markdown'] = '\n'.join(lines)
    with open(a.out, 'w') as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    print('\n'.join(lines))


def cmd_line(a):
    """One-line progress summary of a run record read from stdin."""
    r = json.loads(sys.stdin.read())
    s = (f"cpu {r['cpu_s']:.2f} s, wall {r['wall_s']:.2f} s, {fmt_rate(r['pps_cpu'])} pps/CPU-s, "
         f"rss {r['peak_rss_mb']:.0f} MB")
    if r.get('records_total') is not None:
        s += f", {int(r['records_total']):,} records"
    if r.get('records_lost_in_transport'):
        s += f" ({r['records_lost_in_transport']:,} lost in transport)"
    u = r.get('upload')
    if u and r.get('upload_truth'):
        s += f", upload {u['records']} record(s), largest {u['largest_bytes']:,} B"
    print(s)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('record')
    p.add_argument('--tool', required=True)
    p.add_argument('--capture', required=True)
    p.add_argument('--rep', type=int, required=True)
    p.add_argument('--dir', required=True)
    p.add_argument('--truth', required=True)
    p = sub.add_parser('summary')
    p.add_argument('--runs', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--meta')
    sub.add_parser('line')
    a = ap.parse_args()
    {'record': cmd_record, 'summary': cmd_summary, 'line': cmd_line}[a.cmd](a)


if __name__ == '__main__':
    sys.exit(main())
