// A QEMU TCG plugin (qemu-user) that counts the guest instructions a program executes, the
// emulated counterpart of callgrind's Ir for the arm64 figures of scripts/bench-node. At exit it
// writes the total to the file named by LOA_INSN_OUT (standard error without it).
// Built by scripts/bench-node for the host: cc -shared -fPIC -O2 insn_count.c.
// The few declarations below are QEMU's public plugin API (qemu-plugin.h, API version 1, QEMU
// 7.2), written out because Debian ships no development header for it.
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void* userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb* tb);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void* userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb* tb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb* tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void* userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void* userdata);

#define EXPORT __attribute__((visibility("default")))
EXPORT int qemu_plugin_version = 1;

// Every thread of the guest is a vCPU of its own in qemu-user: one counter, added atomically.
static uint64_t executed;

// Runs before each execution of a translated block; the block's length travels as userdata.
static void on_block(unsigned int vcpu_index, void* instructions) {
  (void)vcpu_index;
  __atomic_fetch_add(&executed, (uint64_t)(uintptr_t)instructions, __ATOMIC_RELAXED);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb* tb) {
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS,
                                       (void*)(uintptr_t)qemu_plugin_tb_n_insns(tb));
}

static void on_exit_guest(qemu_plugin_id_t id, void* userdata) {
  (void)id;
  (void)userdata;
  const char* path = getenv("LOA_INSN_OUT");
  FILE* out = path ? fopen(path, "w") : stderr;
  if (!out) return;
  fprintf(out, "%llu\n", (unsigned long long)__atomic_load_n(&executed, __ATOMIC_RELAXED));
  if (path) fclose(out);
}

EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void* info, int argc, char** argv) {
  (void)info;
  (void)argc;
  (void)argv;
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
  qemu_plugin_register_atexit_cb(id, on_exit_guest, NULL);
  return 0;
}
