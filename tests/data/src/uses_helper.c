/* uses_helper: a CPython extension that calls into libwhhelper (DT_NEEDED), found through
 * RUNPATH $ORIGIN/uses_helper.libs when the wheel vendors it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

extern int whhelper_answer(void);

static PyObject *
answer(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong(whhelper_answer());
}

static PyMethodDef methods[] = {
    {"answer", answer, METH_NOARGS, "42, from the vendored helper library"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "uses_helper", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_uses_helper(void)
{
    return PyModule_Create(&module);
}
