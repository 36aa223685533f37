/* cpu_dispatch: the same AVX2 kernel as cpu_avx2, reached only when the CPU has AVX2
 * (__builtin_cpu_supports, i.e. cpuid), else a scalar loop: imports on every x86-64 CPU.
 * cpu_dispatch.answer == 1488, cpu_dispatch.path == "avx2" or "scalar". */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <immintrin.h>

static volatile int seed = 1;

__attribute__((target("avx2"), noinline)) static int sum_x3_avx2(const int *data)
{
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

__attribute__((noinline)) static int sum_x3_scalar(const int *data)
{
    int s = 0;
    for (int i = 0; i < 32; i++)
        s += 3 * data[i];
    return s;
}

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "cpu_dispatch",
                                       "AVX2 behind a cpuid check", -1, NULL};

PyMODINIT_FUNC PyInit_cpu_dispatch(void)
{
    int data[32];
    for (int i = 0; i < 32; i++)
        data[i] = i * seed;
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2");
    int answer = avx2 ? sum_x3_avx2(data) : sum_x3_scalar(data);
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "answer", answer) < 0 ||
        PyModule_AddStringConstant(m, "path", avx2 ? "avx2" : "scalar") < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
