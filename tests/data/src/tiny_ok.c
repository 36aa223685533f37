/* tiny_ok: a minimal CPython extension using only old glibc symbols (manylinux_2_17 is
 * honest for it).  Built by tests/data/make_defects.py, for glibc (gcc) and musl (musl-gcc). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <unistd.h>

static PyObject *
add(PyObject *self, PyObject *args)
{
    long a, b;
    (void)self;
    if (!PyArg_ParseTuple(args, "ll", &a, &b))
        return NULL;
    return PyLong_FromLong(a + b);
}

static PyObject *
pid(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong((long)getpid()); /* getpid@GLIBC_2.2.5: NEEDED libc */
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "add two integers"},
    {"pid", pid, METH_NOARGS, "the process id"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tiny_ok", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_tiny_ok(void)
{
    return PyModule_Create(&module);
}
