/* limited_ok: a proper abi3 extension, compiled with Py_LIMITED_API = 3.8 and using only
 * stable-ABI functions.  Tagged cp38-abi3, abi3audit must find nothing. */
#define Py_LIMITED_API 0x03080000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
first(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyList_Check(arg) || PyList_Size(arg) < 1) {
        PyErr_SetString(PyExc_ValueError, "need a non-empty list");
        return NULL;
    }
    PyObject *item = PyList_GetItem(arg, 0); /* borrowed; a function, not a macro */
    Py_XINCREF(item);
    return item;
}

static PyMethodDef methods[] = {
    {"first", first, METH_O, "first item of a list"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "limited_ok", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_limited_ok(void)
{
    return PyModule_Create(&module);
}
