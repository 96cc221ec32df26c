// Resident memory of a program running under qemu-user, counting the guest's pages only (the
// arm64 memory figure of scripts/bench-node). Preloaded into the guest (qemu-aarch64 -E
// LD_PRELOAD=guest_rss.so); a thread samples every 250 ms and writes the largest total seen, in
// KiB, to the file named by LOA_GUEST_RSS_OUT.
// Method: qemu-user answers the guest's /proc/self/maps with the guest's own mappings only, and
// passes /proc/self/smaps through, which lists every mapping of the qemu process with its Rss.
// On a 64-bit host qemu maps the guest at the same addresses (guest base 0; checked: the first
// guest mapping must appear in smaps, else nothing is written), so the guest's resident memory
// is the Rss of the smaps ranges that lie within guest mappings (a range partly inside counts
// in proportion). qemu's own code, translation cache and heap are left out.
// Built by scripts/bench-node: aarch64-linux-gnu-gcc -shared -fPIC -O2 guest_rss.c -lpthread.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kMaxRanges = 4096 };
struct Range {
  unsigned long begin, end;
};

static size_t guest_ranges(struct Range* out) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return 0;
  size_t n = 0;
  char line[512];
  while (n < kMaxRanges && fgets(line, sizeof line, f)) {
    if (sscanf(line, "%lx-%lx", &out[n].begin, &out[n].end) == 2) ++n;
  }
  fclose(f);
  return n;
}

static unsigned long overlap(struct Range a, const struct Range* guest, size_t n) {
  unsigned long inside = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned long lo = a.begin > guest[i].begin ? a.begin : guest[i].begin;
    unsigned long hi = a.end < guest[i].end ? a.end : guest[i].end;
    if (hi > lo) inside += hi - lo;
  }
  return inside;
}

// The guest's resident KiB now; -1 when the guest's mappings are not found in smaps.
static long sample(void) {
  static struct Range guest[kMaxRanges];
  size_t n = guest_ranges(guest);
  FILE* f = fopen("/proc/self/smaps", "r");
  if (!f || n == 0) {
    if (f) fclose(f);
    return -1;
  }
  char line[512];
  struct Range host = {0, 0};
  unsigned long inside = 0;
  int first_found = 0;
  double kib = 0;
  long rss;
  while (fgets(line, sizeof line, f)) {
    struct Range r;
    if (sscanf(line, "%lx-%lx ", &r.begin, &r.end) == 2 && strchr(line, '-') < strchr(line, ' ')) {
      host = r;
      inside = overlap(host, guest, n);
      if (host.begin == guest[0].begin) first_found = 1;
    } else if (sscanf(line, "Rss: %ld kB", &rss) == 1 && inside > 0) {
      kib += (double)rss * (double)inside / (double)(host.end - host.begin);
    }
  }
  fclose(f);
  return first_found ? (long)kib : -1;
}

static void* watch(void* arg) {
  (void)arg;
  const char* path = getenv("LOA_GUEST_RSS_OUT");
  long max = 0;
  for (;;) {
    long kib = sample();
    if (kib > max) {
      max = kib;
      FILE* out = fopen(path, "w");
      if (out) {
        fprintf(out, "%ld\n", max);
        fclose(out);
      }
    }
    usleep(250 * 1000);
  }
  return NULL;
}

__attribute__((constructor)) static void start_watch(void) {
  if (!getenv("LOA_GUEST_RSS_OUT")) return;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  if (pthread_create(&t, &attr, watch, NULL) == 0) pthread_detach(t);
  pthread_attr_destroy(&attr);
}
