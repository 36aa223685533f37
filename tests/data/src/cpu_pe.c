/* cpu_pe: a Windows x64 extension module built with mingw-w64, the PE side of cpu.isa.
 * Built twice from this file: with -mavx2 (sum_x3 adds with AVX2: cpu.isa names it, an
 * export, from the function table in .pdata) and without (SSE2 only: nothing to report).
 * classify() holds a switch that GCC turns into a jump table, so the scan also meets
 * data next to code. A static-inspection subject: it links no python3XY.dll (PyInit
 * returns the sum, not a module), so it is not importable. */
#include <immintrin.h>

static volatile int seed = 1;

__declspec(dllexport) int sum_x3(void)
{
    int data[32];
    for (int i = 0; i < 32; i++)
        data[i] = i * seed;
#ifdef __AVX2__
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
#else
    __m128i acc = _mm_setzero_si128();
    for (int i = 0; i < 32; i += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)&data[i]);
        acc = _mm_add_epi32(acc, _mm_add_epi32(v, _mm_add_epi32(v, v)));
    }
    int out[4];
    _mm_storeu_si128((__m128i *)out, acc);
    int s = out[0] + out[1] + out[2] + out[3];
#endif
    return s;
}

__declspec(dllexport) int classify(int c)
{
    switch (c * seed) {
    case 0: return 17;
    case 1: return 23;
    case 2: return 5 * seed;
    case 3: return 41;
    case 4: return 7 + seed;
    case 5: return 99;
    case 6: return 3 * seed;
    case 7: return 64;
    default: return -1;
    }
}

__declspec(dllexport) void *PyInit_cpu_pe(void)
{
    return (void *)(long long)(sum_x3() + classify(seed));
}
