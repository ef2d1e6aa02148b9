/*
 * Our own single-precision GEMM, for machines without a BLAS library (blas.c uses it when dlopen finds none, or
 * when told to): tfjs's own matmuls are ~50x slower than OpenBLAS here, and without Debian's libopenblas0-pthread
 * the default run took 27 s instead of 14.5 (bench/gemm.ts --train; 88 s in issue #15's first run).
 *
 * The usual blocked scheme (Goto; BLIS's loop order): op(B) is packed KC rows at a time into NR-wide column
 * slivers shared by all threads, op(A) into MR-tall row slivers per thread (MC rows, sized for L2), and an
 * MR x NR micro-kernel keeps the block of C in registers while it runs down both slivers (KC x NR of B stays in
 * L1). Packing makes every transpose combination the same kernel and pads edge tiles with zeros. Kernels: AVX2
 * with explicit FMA where the CPU has both (chosen at run time, so the module stays portable), else plain C the
 * compiler vectorises for the baseline ISA. Threads (as many as setThreads says) split the rows of C after
 * packing a share of each B panel; products too small to pay for waking them run on one.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define MR 6
#define NR 16
/* KC x NR of B (24 KB) plus MR x KC of A (9 KB) in a 32-48 KB L1; MC x KC of A (216 KB) in L2. */
#define KC 384
#define MC 144
/* B's packed panel: KC x NC floats (6 MB, of which a product touches what it uses), shared by the threads. */
#define NC 4096
#define MAX_THREADS 64
/* Below this many multiply-adds one thread does it faster than starting others. */
#define MIN_PARALLEL (1 << 21)

typedef void (*kernel_fn)(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, float beta);

/* c (mr x nr of the tile, row stride ldc) = acc (+ beta c); beta 0 never reads c (it may hold NaNs). */
static void store_tile(const float *acc, float *c, int ldc, int mr, int nr, float beta) {
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] = beta == 0 ? acc[i * NR + j] : beta * c[(size_t)i * ldc + j] + acc[i * NR + j];
}

/*
 * Plain C with the compiler's 4-wide vectors (SSE2, NEON, or scalar code where neither), the tile in two 6 x 8
 * halves so that its accumulators stay in 16 registers.
 */
typedef float v4 __attribute__((vector_size(16)));

static void kernel_portable(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, float beta) {
  _Alignas(16) float tile[MR * NR];
  for (int h = 0; h < NR; h += 8) {
    v4 acc[MR][2];
    memset(acc, 0, sizeof acc);
    const float *ap = a, *bp = b + h;
    for (int p = 0; p < kc; p++, ap += MR, bp += NR) {
      v4 b0, b1;
      memcpy(&b0, bp, sizeof b0);
      memcpy(&b1, bp + 4, sizeof b1);
      for (int i = 0; i < MR; i++) acc[i][0] += ap[i] * b0, acc[i][1] += ap[i] * b1;
    }
    for (int i = 0; i < MR; i++) memcpy(tile + i * NR + h, acc[i], sizeof acc[i]);
  }
  store_tile(tile, c, ldc, mr, nr, beta);
}

#ifdef GEMM_X86
__attribute__((target("avx2,fma"))) static void kernel_avx2(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int p = 0; p < kc; p++, a += MR, b += NR) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 ai = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(ai, b0, c00), c01 = _mm256_fmadd_ps(ai, b1, c01);
    ai = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ai, b0, c10), c11 = _mm256_fmadd_ps(ai, b1, c11);
    ai = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ai, b0, c20), c21 = _mm256_fmadd_ps(ai, b1, c21);
    ai = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ai, b0, c30), c31 = _mm256_fmadd_ps(ai, b1, c31);
    ai = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ai, b0, c40), c41 = _mm256_fmadd_ps(ai, b1, c41);
    ai = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ai, b0, c50), c51 = _mm256_fmadd_ps(ai, b1, c51);
  }
  const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  if (mr < MR || nr < NR) {
    _Alignas(32) float tile[MR * NR];
    for (int i = 0; i < MR; i++) _mm256_store_ps(tile + i * NR, acc[i][0]), _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
    store_tile(tile, c, ldc, mr, nr, beta);
    return;
  }
  const __m256 vb = _mm256_set1_ps(beta);
  for (int i = 0; i < MR; i++, c += ldc) {
    if (beta == 0) {
      _mm256_storeu_ps(c, acc[i][0]), _mm256_storeu_ps(c + 8, acc[i][1]);
    } else {
      _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), acc[i][0]));
      _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), acc[i][1]));
    }
  }
}
#endif

static kernel_fn kernel = kernel_portable;
static int threads = 1;

/* Selects the fastest kernel this CPU runs, or the portable one when `portable` (tests check both); its name. */
const char *gemm_select(bool portable) {
#ifdef GEMM_X86
  if (!portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    kernel = kernel_avx2;
    return "AVX2/FMA";
  }
#endif
  kernel = kernel_portable;
  return "portable C";
}

void gemm_set_threads(int n) { threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : n; }

/* One product's operands: row-major c (m x n) = op(a) (m x k) op(b) (k x n) (+ beta c). */
typedef struct {
  bool ta, tb;
  int m, n, k;
  const float *a, *b;
  float *c;
  float beta;
  float *bp; /* the shared packed panel of op(b) */
  int nthreads, rows_per_thread;
  pthread_barrier_t barrier;
} product;

/* op(b) rows [pc, pc + kc), columns of slivers [s0, s1) of the panel starting at column jc, into bp. */
static void pack_b(const product *g, int pc, int kc, int jc, int nc, int s0, int s1) {
  for (int s = s0; s < s1; s++) {
    float *dst = g->bp + (size_t)s * kc * NR;
    const int j0 = jc + s * NR, w = nc - s * NR < NR ? nc - s * NR : NR;
    for (int p = 0; p < kc; p++, dst += NR) {
      if (g->tb) {
        for (int j = 0; j < w; j++) dst[j] = g->b[(size_t)(j0 + j) * g->k + pc + p];
      } else {
        memcpy(dst, g->b + (size_t)(pc + p) * g->n + j0, (size_t)w * sizeof(float));
      }
      for (int j = w; j < NR; j++) dst[j] = 0;
    }
  }
}

/* op(a) rows [ic, ic + mc), columns [pc, pc + kc), into MR-tall slivers at ap, reading op(a) along its rows in memory. */
static void pack_a(const product *g, float *ap, int ic, int mc, int pc, int kc) {
  const int full = mc / MR * MR;
  if (g->ta) {
    for (int p = 0; p < kc; p++) {
      const float *src = g->a + (size_t)(pc + p) * g->m + ic;
      for (int s = 0; s < full; s += MR) memcpy(ap + (size_t)s * kc + p * MR, src + s, MR * sizeof(float));
    }
  } else {
    for (int s = 0; s < full; s += MR) {
      float *dst = ap + (size_t)s * kc;
      for (int i = 0; i < MR; i++) {
        const float *src = g->a + (size_t)(ic + s + i) * g->k + pc;
        for (int p = 0; p < kc; p++) dst[p * MR + i] = src[p];
      }
    }
  }
  if (full == mc) return;
  float *dst = ap + (size_t)full * kc; /* the last, short sliver, padded with zeros */
  for (int p = 0; p < kc; p++)
    for (int i = 0; i < MR; i++) dst[p * MR + i] = full + i >= mc ? 0 : g->ta ? g->a[(size_t)(pc + p) * g->m + ic + full + i] : g->a[(size_t)(ic + full + i) * g->k + pc + p];
}

/* Per-thread packing buffers for A, kept between calls (first-touching fresh pages each call costs as much as a small product). */
static float *a_bufs[MAX_THREADS];
static float *b_buf;

static float *buffer(float **slot, size_t floats) {
  if (!*slot) *slot = aligned_alloc(64, floats * sizeof(float));
  return *slot;
}

static void sync_threads(product *g) {
  if (g->nthreads > 1) pthread_barrier_wait(&g->barrier);
}

/* Thread t's share: all of C's rows in [t * rows_per_thread, ...), and slivers of each B panel to pack. */
static void run(product *g, int t) {
  float *ap = a_bufs[t];
  const int i0 = t * g->rows_per_thread, i1 = i0 + g->rows_per_thread < g->m ? i0 + g->rows_per_thread : g->m;
  for (int jc = 0; jc < g->n; jc += NC) {
    const int nc = g->n - jc < NC ? g->n - jc : NC, slivers = (nc + NR - 1) / NR;
    for (int pc = 0; pc < g->k; pc += KC) {
      const int kc = g->k - pc < KC ? g->k - pc : KC;
      pack_b(g, pc, kc, jc, nc, slivers * t / g->nthreads, slivers * (t + 1) / g->nthreads);
      sync_threads(g);
      const float beta = pc == 0 ? g->beta : 1;
      for (int ic = i0; ic < i1; ic += MC) {
        const int mc = i1 - ic < MC ? i1 - ic : MC;
        pack_a(g, ap, ic, mc, pc, kc);
        for (int jr = 0; jr < nc; jr += NR) {
          const float *bs = g->bp + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += MR) {
            kernel(kc, ap + (size_t)ir * kc, bs, g->c + (size_t)(ic + ir) * g->n + jc + jr, g->n, mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR, beta);
          }
        }
      }
      sync_threads(g); /* nobody repacks the panel while another thread still reads it */
    }
  }
}

/*
 * The helper threads, started on the first product that wants them and kept (as OpenBLAS keeps its own): each
 * call wakes them with the product to share, and waits until they are all done with it.
 */
static unsigned helper_start[MAX_THREADS]; /* the generation current when each was started: the jobs it may take come after */
static int nhelpers;
static product *job;
static unsigned generation;
static int running;
static pthread_mutex_t pool = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t job_posted = PTHREAD_COND_INITIALIZER, job_done = PTHREAD_COND_INITIALIZER;

static void *helper_main(void *arg) {
  const int t = (int)(intptr_t)arg;
  unsigned seen = helper_start[t - 1];
  for (;;) {
    pthread_mutex_lock(&pool);
    while (generation == seen) pthread_cond_wait(&job_posted, &pool);
    seen = generation;
    product *g = job;
    pthread_mutex_unlock(&pool);
    if (t < g->nthreads) run(g, t);
    pthread_mutex_lock(&pool);
    if (--running == 0) pthread_cond_signal(&job_done);
    pthread_mutex_unlock(&pool);
  }
  return NULL;
}

/* Up to `want` helpers (threads 1..want), fewer if the process cannot start more; how many there are. */
static int start_helpers(int want) {
  for (; nhelpers < want; nhelpers++) {
    pthread_t id;
    helper_start[nhelpers] = generation;
    if (pthread_create(&id, NULL, helper_main, (void *)(intptr_t)(nhelpers + 1)) != 0) break;
    pthread_detach(id);
  }
  return nhelpers < want ? nhelpers : want;
}

/* One caller at a time: the packing buffers and the helpers are the module's (Node worker threads may share it). */
static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;

/* c = op(a) op(b) (+ beta c), row-major, op(a) m x k, op(b) k x n; false if out of memory. */
bool gemm_sgemm(bool ta, bool tb, int m, int n, int k, const float *a, const float *b, float *c, float beta) {
  if (m <= 0 || n <= 0) return true;
  if (k == 0) {
    for (size_t i = 0; i < (size_t)m * n; i++) c[i] = beta == 0 ? 0 : beta * c[i];
    return true;
  }
  const int row_slivers = (m + MR - 1) / MR;
  int nt = (int64_t)m * n * k < MIN_PARALLEL ? 1 : threads;
  if (nt > row_slivers) nt = row_slivers;
  pthread_mutex_lock(&busy);
  if (nt > 1) nt = 1 + start_helpers(nt - 1);
  product g = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .a = a, .b = b, .c = c, .beta = beta, .nthreads = nt, .rows_per_thread = (row_slivers + nt - 1) / nt * MR};
  g.bp = buffer(&b_buf, (size_t)KC * ((NC + NR - 1) / NR * NR));
  bool ok = g.bp != NULL;
  for (int t = 0; t < nt && ok; t++) ok = buffer(&a_bufs[t], (size_t)MC * KC) != NULL;
  if (ok && nt > 1) {
    pthread_barrier_init(&g.barrier, NULL, (unsigned)nt);
    pthread_mutex_lock(&pool);
    job = &g;
    running = nhelpers;
    generation++;
    pthread_cond_broadcast(&job_posted);
    pthread_mutex_unlock(&pool);
    run(&g, 0);
    pthread_mutex_lock(&pool);
    while (running > 0) pthread_cond_wait(&job_done, &pool);
    pthread_mutex_unlock(&pool);
    pthread_barrier_destroy(&g.barrier);
  } else if (ok) {
    run(&g, 0);
  }
  pthread_mutex_unlock(&busy);
  return ok;
}
