/*
 * ddp_blas: single-precision GEMM for the tfjs MatMul kernels of src/backend/blas.ts, from a BLAS library found
 * at run time (dlopen) or our own (gemm.c), and the other native kernels. Nothing here links against a BLAS:
 * the module builds wherever a C compiler and Node's headers are, and says at load time whether a library was
 * found (OpenBLAS from Debian's libopenblas0-pthread, or the one DDP_BLAS_LIB names).
 */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

/* CBLAS enums (cblas.h), declared here so that no BLAS headers are needed to build. */
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef void (*threads_fn)(int);
typedef int (*get_threads_fn)(void);

static sgemm_fn sgemm = NULL;
static threads_fn set_threads = NULL;
static get_threads_fn get_threads = NULL;
static char library[512] = "";
static char load_error[1024] = "";

/* gemm.c */
bool gemm_sgemm(bool ta, bool tb, int m, int n, int k, const float *a, const float *b, float *c, float beta);
const char *gemm_select(bool portable);
void gemm_set_threads(int n);

static void load_blas(void) {
  const char *named = getenv("DDP_BLAS_LIB");
  const char *candidates[] = {named, "libopenblas.so.0", "libopenblas.so", "libopenblasp-r0.so", NULL};
  for (int i = 0; i < 4; i++) {
    const char *name = candidates[i];
    if (!name || !*name) continue;
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      /* The first failure says most: DDP_BLAS_LIB's when named, else libopenblas.so.0's (the Debian package's). */
      const char *why = dlerror();
      if (!*load_error) snprintf(load_error, sizeof load_error, "%s", why);
      continue;
    }
    sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!sgemm) {
      snprintf(load_error, sizeof load_error, "%s has no cblas_sgemm", name);
      dlclose(h);
      continue;
    }
    set_threads = (threads_fn)dlsym(h, "openblas_set_num_threads");
    get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    snprintf(library, sizeof library, "%s", name);
    load_error[0] = 0;
    return;
  }
}

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* A Float32Array argument's data and length; NULL (with a JS error pending) if it is not one. */
static float *floats(napi_env env, napi_value v, size_t *length) {
  napi_typedarray_type type;
  void *data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &data, &buffer, &offset) != napi_ok || type != napi_float32_array) {
    throw_error(env, "ddp_blas: expected a Float32Array");
    return NULL;
  }
  return (float *)data;
}

/* The source and destination Float32Arrays of a copy kernel; false (with a JS error pending) otherwise. */
static bool src_dst(napi_env env, napi_value a, napi_value b, float **src, size_t *ls, float **dst, size_t *ld) {
  *src = floats(env, a, ls);
  *dst = *src ? floats(env, b, ld) : NULL;
  return *dst != NULL;
}

/* Fills argv with exactly n arguments; false (with a JS error pending) otherwise. */
static bool get_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *what) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == n) return true;
  char msg[128];
  snprintf(msg, sizeof msg, "ddp_blas.%s: expected %zu arguments", what, n);
  throw_error(env, msg);
  return false;
}

static int int_arg(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}

/* A product's arguments (transA, transB, m, n, k, a, b, c, beta), checked; false (with a JS error pending) otherwise. */
typedef struct {
  bool ta, tb;
  int m, n, k;
  float *a, *b, *c;
  double beta;
} gemm_args;

static bool get_gemm_args(napi_env env, napi_callback_info info, const char *what, gemm_args *g) {
  napi_value argv[9];
  if (!get_args(env, info, 9, argv, what)) return false;
  napi_get_value_bool(env, argv[0], &g->ta);
  napi_get_value_bool(env, argv[1], &g->tb);
  g->m = int_arg(env, argv[2]), g->n = int_arg(env, argv[3]), g->k = int_arg(env, argv[4]);
  size_t la, lb, lc;
  if (!(g->a = floats(env, argv[5], &la)) || !(g->b = floats(env, argv[6], &lb)) || !(g->c = floats(env, argv[7], &lc))) return false;
  g->beta = 0;
  napi_get_value_double(env, argv[8], &g->beta);
  if (g->m < 0 || g->n < 0 || g->k < 0 || la < (size_t)g->m * g->k || lb < (size_t)g->k * g->n || lc < (size_t)g->m * g->n) {
    char msg[128];
    snprintf(msg, sizeof msg, "ddp_blas.%s: array too small for the shapes", what);
    throw_error(env, msg);
    return false;
  }
  return true;
}

/* sgemm(transA, transB, m, n, k, a, b, c, beta): c = a' b' (+ beta c), row-major, a' is m x k, b' is k x n; the BLAS library's. */
static napi_value js_sgemm(napi_env env, napi_callback_info info) {
  gemm_args g;
  if (!get_gemm_args(env, info, "sgemm", &g)) return NULL;
  if (!sgemm) return throw_error(env, "ddp_blas.sgemm: no BLAS library loaded");
  if (g.m == 0 || g.n == 0) return NULL;
  sgemm(RowMajor, g.ta ? Trans : NoTrans, g.tb ? Trans : NoTrans, g.m, g.n, g.k, 1.0f, g.a, g.ta ? g.m : g.k, g.b, g.tb ? g.k : g.n, (float)g.beta, g.c, g.n);
  return NULL;
}

/* gemm(...): the same product by our own GEMM (gemm.c). */
static napi_value js_gemm(napi_env env, napi_callback_info info) {
  gemm_args g;
  if (!get_gemm_args(env, info, "gemm", &g)) return NULL;
  if (!gemm_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.a, g.b, g.c, (float)g.beta)) return throw_error(env, "ddp_blas.gemm: out of memory for the packing buffers");
  return NULL;
}

/* selectGemmKernel(portable): our GEMM's micro-kernel, the CPU's fastest or (true) the portable C one; returns its name. */
static napi_value js_select_gemm_kernel(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  if (!get_args(env, info, 1, argv, "selectGemmKernel")) return NULL;
  bool portable = false;
  napi_get_value_bool(env, argv[0], &portable);
  napi_create_string_utf8(env, gemm_select(portable), NAPI_AUTO_LENGTH, &out);
  return out;
}

/* info(): { library, error, threads } — library '' when none was found (error says why). */
static napi_value js_info(napi_env env, napi_callback_info info) {
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, library, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "library", v);
  napi_create_string_utf8(env, load_error, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "error", v);
  napi_create_int32(env, get_threads ? get_threads() : 0, &v);
  napi_set_named_property(env, out, "threads", v);
  return out;
}

/* setThreads(n): the threads of the library's sgemm and of ours. */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "setThreads")) return NULL;
  const int n = int_arg(env, argv[0]);
  if (set_threads) set_threads(n);
  gemm_set_threads(n);
  return NULL;
}

/*
 * adam(w, g, m, v, lrT, b1, b2, eps): the dense Adam step of src/optim/adam.ts over whole arrays, in double
 * precision with float32 stores exactly as the JavaScript loop does (built with -ffp-contract=off: no fused
 * multiply-add), so both give the same bits; the compiler vectorises this one.
 */
static napi_value js_adam(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv, "adam")) return NULL;
  size_t lw, lg, lm, lv;
  float *w = floats(env, argv[0], &lw), *g = floats(env, argv[1], &lg), *m = floats(env, argv[2], &lm), *v = floats(env, argv[3], &lv);
  if (!w || !g || !m || !v) return NULL;
  if (lg != lw || lm != lw || lv != lw) return throw_error(env, "ddp_blas.adam: arrays of different lengths");
  double lrT, b1, b2, eps;
  napi_get_value_double(env, argv[4], &lrT);
  napi_get_value_double(env, argv[5], &b1);
  napi_get_value_double(env, argv[6], &b2);
  napi_get_value_double(env, argv[7], &eps);
  const double c1 = 1 - b1, c2 = 1 - b2;
  for (size_t j = 0; j < lw; j++) {
    const double gk = g[j];
    const double mj = b1 * m[j] + c1 * gk;
    const double vj = b2 * v[j] + c2 * gk * gk;
    m[j] = (float)mj;
    v[j] = (float)vj;
    w[j] = (float)(w[j] - (lrT * mj) / (sqrt(vj) + eps));
  }
  return NULL;
}

/*
 * transpose(src, rows, cols, dst): dst (cols x rows) = src (rows x cols)', row-major, in 8 x 8 tiles so that
 * both sides stay in cache: tfjs's wasm Transpose took ~10 ms for the [8192 x 400] activations the dense
 * layers' gradients transpose, this ~3. Small tiles because strides are often powers of two (1024 floats),
 * whose lines share a cache set: 32 x 32 tiles measured up to 5x slower on such shapes.
 */
#define TILE 8
static napi_value js_transpose(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, "transpose")) return NULL;
  size_t ls, ld;
  float *src, *dst;
  if (!src_dst(env, argv[0], argv[3], &src, &ls, &dst, &ld)) return NULL;
  int rows = int_arg(env, argv[1]), cols = int_arg(env, argv[2]);
  if (rows < 0 || cols < 0 || ls < (size_t)rows * cols || ld < (size_t)rows * cols) return throw_error(env, "ddp_blas.transpose: array too small for the shape");
  for (int i0 = 0; i0 < rows; i0 += TILE) {
    const int i1 = i0 + TILE < rows ? i0 + TILE : rows;
    for (int j0 = 0; j0 < cols; j0 += TILE) {
      const int j1 = j0 + TILE < cols ? j0 + TILE : cols;
      for (int j = j0; j < j1; j++) {
        float *out = dst + (size_t)j * rows;
        for (int i = i0; i < i1; i++) out[i] = src[(size_t)i * cols + j];
      }
    }
  }
  return NULL;
}

/*
 * copy2d(src, srcStride, srcCol, dst, dstStride, dstCol, rows, width): row r's `width` values from
 * src[r * srcStride + srcCol] to dst[r * dstStride + dstCol]. SplitV and Concat along any axis are this copy
 * (rows: the product of the dims before the axis); tfjs's wasm kernels do it value by value in JavaScript.
 */
static napi_value js_copy2d(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv, "copy2d")) return NULL;
  size_t ls, ld;
  float *src, *dst;
  if (!src_dst(env, argv[0], argv[3], &src, &ls, &dst, &ld)) return NULL;
  const long ss = int_arg(env, argv[1]), sc = int_arg(env, argv[2]), ds = int_arg(env, argv[4]), dc = int_arg(env, argv[5]);
  const long rows = int_arg(env, argv[6]), width = int_arg(env, argv[7]);
  if (rows <= 0 || width <= 0) return NULL;
  if (ss < 0 || sc < 0 || ds < 0 || dc < 0 || (size_t)((rows - 1) * ss + sc + width) > ls || (size_t)((rows - 1) * ds + dc + width) > ld) {
    return throw_error(env, "ddp_blas.copy2d: block outside the arrays");
  }
  for (long r = 0; r < rows; r++) memcpy(dst + r * ds + dc, src + r * ss + sc, (size_t)width * sizeof(float));
  return NULL;
}

/* A typed array argument of the given type: its data and length; NULL (with a JS error pending) otherwise. */
static void *typed(napi_env env, napi_value v, napi_typedarray_type want, size_t *length, const char *what) {
  napi_typedarray_type type;
  void *data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &data, &buffer, &offset) != napi_ok || type != want) {
    throw_error(env, what);
    return NULL;
  }
  return data;
}

/*
 * gather(weights, dim, ids, out): out's row i = weights' row ids[i] (EmbeddingTable.gather, one batch's
 * embedding lookup: 1.7M random rows at batch 65,536). Returns -1, or the position of the first id outside the
 * table, for the caller to name in its error.
 */
static napi_value js_gather(napi_env env, napi_callback_info info) {
  napi_value argv[4], result;
  if (!get_args(env, info, 4, argv, "gather")) return NULL;
  size_t lw, li, lo;
  const float *w = floats(env, argv[0], &lw);
  const int dim = int_arg(env, argv[1]);
  const int32_t *ids = w ? typed(env, argv[2], napi_int32_array, &li, "ddp_blas.gather: ids must be an Int32Array") : NULL;
  float *out = ids ? floats(env, argv[3], &lo) : NULL;
  if (!out) return NULL;
  if (dim < 1 || lo < li * (size_t)dim) return throw_error(env, "ddp_blas.gather: out too small for the ids");
  const uint32_t rows = (uint32_t)(lw / (size_t)dim);
  int64_t bad = -1;
  for (size_t i = 0; i < li; i++) {
    const uint32_t id = (uint32_t)ids[i];
    if (id >= rows) {
      bad = (int64_t)i;
      break;
    }
    memcpy(out + i * dim, w + (size_t)id * dim, (size_t)dim * sizeof(float));
  }
  napi_create_double(env, (double)bad, &result);
  return result;
}

/*
 * mergeSlots(ids, counts, rows, dim, slot, seen, sums, sumCounts): the first pass of mergeRows' slot-map path
 * (src/sparse/merge.ts) with the same bits: each id's rows summed in input order into the slot it got when first
 * seen (float adds, as the JavaScript's float32 stores of double sums round the same way), counts summed in
 * double and stored as float32 as there. counts: Float32Array, Int32Array or null (1 each). Returns the number
 * of distinct ids; seen[0..u) lists them in first-seen order. slot[id] must be -1 for every id on entry.
 */
static napi_value js_merge_slots(napi_env env, napi_callback_info info) {
  napi_value argv[8], result;
  if (!get_args(env, info, 8, argv, "mergeSlots")) return NULL;
  size_t n, lc = 0, lr, ls, lseen, lsum, lsc;
  const int32_t *ids = typed(env, argv[0], napi_int32_array, &n, "ddp_blas.mergeSlots: ids must be an Int32Array");
  if (!ids) return NULL;
  napi_valuetype ct;
  napi_typeof(env, argv[1], &ct);
  napi_typedarray_type ctype = napi_float32_array;
  void *counts = NULL;
  if (ct != napi_null) {
    napi_value buffer;
    size_t offset;
    if (napi_get_typedarray_info(env, argv[1], &ctype, &lc, &counts, &buffer, &offset) != napi_ok || (ctype != napi_float32_array && ctype != napi_int32_array)) {
      return throw_error(env, "ddp_blas.mergeSlots: counts must be a Float32Array, an Int32Array or null");
    }
  }
  const float *rows = floats(env, argv[2], &lr);
  const int dim = int_arg(env, argv[3]);
  int32_t *slot = rows ? typed(env, argv[4], napi_int32_array, &ls, "ddp_blas.mergeSlots: slot must be an Int32Array") : NULL;
  int32_t *seen = slot ? typed(env, argv[5], napi_int32_array, &lseen, "ddp_blas.mergeSlots: seen must be an Int32Array") : NULL;
  float *sums = seen ? floats(env, argv[6], &lsum) : NULL;
  float *sc = sums ? floats(env, argv[7], &lsc) : NULL;
  if (!sc) return NULL;
  if (dim < 1 || lr < n * (size_t)dim || (counts && lc < n) || lseen < n || lsc < n || lsum < n * (size_t)dim) {
    return throw_error(env, "ddp_blas.mergeSlots: arrays too small");
  }
  int32_t u = 0;
  for (size_t i = 0; i < n; i++) {
    const uint32_t id = (uint32_t)ids[i];
    if (id >= ls) return throw_error(env, "ddp_blas.mergeSlots: id outside the slot map");
    const double c = !counts ? 1.0 : ctype == napi_int32_array ? (double)((const int32_t *)counts)[i] : (double)((const float *)counts)[i];
    const float *src = rows + i * dim;
    int32_t j = slot[id];
    if (j < 0) {
      j = u++;
      slot[id] = j;
      seen[j] = (int32_t)id;
      memcpy(sums + (size_t)j * dim, src, (size_t)dim * sizeof(float));
      sc[j] = (float)c;
    } else {
      float *dst = sums + (size_t)j * dim;
      for (int k = 0; k < dim; k++) dst[k] += src[k];
      sc[j] = (float)((double)sc[j] + c);
    }
  }
  napi_create_int32(env, u, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  load_blas();
  gemm_select(false);
  napi_property_descriptor props[] = {
    {"sgemm", NULL, js_sgemm, NULL, NULL, NULL, napi_default, NULL},
    {"gemm", NULL, js_gemm, NULL, NULL, NULL, napi_default, NULL},
    {"selectGemmKernel", NULL, js_select_gemm_kernel, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"adam", NULL, js_adam, NULL, NULL, NULL, napi_default, NULL},
    {"transpose", NULL, js_transpose, NULL, NULL, NULL, napi_default, NULL},
    {"copy2d", NULL, js_copy2d, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, js_gather, NULL, NULL, NULL, napi_default, NULL},
    {"mergeSlots", NULL, js_merge_slots, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
