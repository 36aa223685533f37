/* needs_glibc234: a CPython extension that calls close_range(2), which glibc exports only
 * from GLIBC_2.34 on.  The import itself fails on an older glibc ("version `GLIBC_2.34' not
 * found"), which is the point: tagged manylinux_2_17 it is a lie, tagged manylinux_2_35 it
 * is honest.  Built by tests/data/make_defects.py. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <unistd.h>

extern int close_range(unsigned int first, unsigned int last, int flags);

static PyObject *
close_range_noop(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    /* an empty range far above any open fd: a no-op that still exercises the symbol */
    int rc = close_range(~0U - 1, ~0U - 1, 0);
    return PyLong_FromLong(rc);
}

static PyObject *
answer(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(42);
}

static PyMethodDef methods[] = {
    {"close_range_noop", close_range_noop, METH_NOARGS, "call close_range() on an empty range"},
    {"answer", answer, METH_NOARGS, "return 42"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "needs_glibc234", "needs GLIBC_2.34 (close_range)", -1, methods,
};

PyMODINIT_FUNC
PyInit_needs_glibc234(void)
{
    return PyModule_Create(&module);
}
