/* cpu_lse: aarch64 atomics. Built with -march=armv8.1-a -mno-outline-atomics (LSE inline,
 * no dispatch) it executes an LSE instruction (ldaddal) at import and dies with SIGILL on an
 * ARMv8.0 CPU (cortex-a53). Built with the compiler's default -moutline-atomics, libgcc's
 * helpers pick LSE or an ldxr/stxr loop at run time (getauxval(AT_HWCAP)): imports
 * everywhere. cpu_lse.answer == 42 either way. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int counter = 40;

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "cpu_lse", "aarch64 atomics",
                                       -1, NULL};

PyMODINIT_FUNC PyInit_cpu_lse(void)
{
    __atomic_fetch_add(&counter, 2, __ATOMIC_SEQ_CST);
    PyObject *m = PyModule_Create(&moduledef);
    if (m != NULL && PyModule_AddIntConstant(m, "answer", __atomic_load_n(&counter, __ATOMIC_SEQ_CST)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
