/* cpu_avx2: executes AVX2 at import, with no runtime dispatch (built with -mavx2, as a
 * -march=haswell or -march=native build would be). On a CPU without AVX2 (x86-64-v1/v2)
 * `import cpu_avx2` dies with SIGILL. cpu_avx2.answer == 1488 (the sum of 3*i for i < 32) */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <immintrin.h>

static volatile int seed = 1;

static int __attribute__((noinline)) sum_x3(void)
{
    int data[32];
    for (int i = 0; i < 32; i++)
        data[i] = i * seed;
    __m256i acc = _mm256_setzero_si256();
    for (int i = 0; i < 32; i += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)&data[i]);
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(v, _mm256_add_epi32(v, v)));
    }
    int out[8];
    _mm256_storeu_si256((__m256i *)out, acc);
    int s = 0;
    for (int i = 0; i < 8; i++)
        s += out[i];
    return s;
}

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "cpu_avx2",
                                       "AVX2 at import, no dispatch", -1, NULL};

PyMODINIT_FUNC PyInit_cpu_avx2(void)
{
    PyObject *m = PyModule_Create(&moduledef);
    if (m != NULL && PyModule_AddIntConstant(m, "answer", sum_x3()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
