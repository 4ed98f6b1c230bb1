// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
// vigil's XDP filter (feature `xdp` of vigil-mitigate): drops packets from
// blocked source prefixes (LPM tries, IPv4 and IPv6) and limits packets of a
// flood's protocol to victims (token bucket per victim address). User space
// (src/xdp.rs, with aya) fills the maps; the program never allocates.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct key4 { __u32 prefixlen; __u8 addr[4]; };
struct key6 { __u32 prefixlen; __u8 addr[16]; };

// A per-victim limit: rate (packets/s), burst (packets), proto (0 any),
// and the bucket's state (tokens scaled by 1e9, last refill in ns).
struct limit { __u64 rate; __u64 burst; __u64 proto; __u64 tokens; __u64 last; };

struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 65536);
         __type(key, struct key4); __type(value, __u32);
         __uint(map_flags, BPF_F_NO_PREALLOC); } BLOCK4 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 65536);
         __type(key, struct key6); __type(value, __u32);
         __uint(map_flags, BPF_F_NO_PREALLOC); } BLOCK6 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096);
         __type(key, struct key4); __type(value, struct limit); } LIMIT4 SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096);
         __type(key, struct key6); __type(value, struct limit); } LIMIT6 SEC(".maps");
// [0] dropped as blocked sources, [1] dropped over a victim's limit, [2] passed
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 3);
         __type(key, __u32); __type(value, __u64); } STATS SEC(".maps");

static __always_inline int count(__u32 i, int verdict) {
    __u64 *c = bpf_map_lookup_elem(&STATS, &i);
    if (c) *c += 1;
    return verdict;
}

static __always_inline int over(struct limit *l, __u8 proto) {
    if (l->proto && l->proto != proto) return 0;
    __u64 now = bpf_ktime_get_ns();
    __u64 cap = l->burst * 1000000000ULL;
    __u64 t = l->tokens + (now - l->last) * l->rate;
    if (t > cap) t = cap;
    l->last = now;
    if (t < 1000000000ULL) { l->tokens = t; return 1; }
    l->tokens = t - 1000000000ULL;
    return 0;
}

SEC("xdp")
int vigil_xdp(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return XDP_PASS;
        struct key4 k = { .prefixlen = 32 };
        __builtin_memcpy(k.addr, &ip->saddr, 4);
        if (bpf_map_lookup_elem(&BLOCK4, &k)) return count(0, XDP_DROP);
        __builtin_memcpy(k.addr, &ip->daddr, 4);
        struct limit *l = bpf_map_lookup_elem(&LIMIT4, &k);
        if (l && over(l, ip->protocol)) return count(1, XDP_DROP);
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end) return XDP_PASS;
        struct key6 k = { .prefixlen = 128 };
        __builtin_memcpy(k.addr, &ip->saddr, 16);
        if (bpf_map_lookup_elem(&BLOCK6, &k)) return count(0, XDP_DROP);
        __builtin_memcpy(k.addr, &ip->daddr, 16);
        struct limit *l = bpf_map_lookup_elem(&LIMIT6, &k);
        if (l && over(l, ip->nexthdr)) return count(1, XDP_DROP);
    }
    return count(2, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
