/* not_limited: compiled WITHOUT Py_LIMITED_API and calling functions that are not part of
 * the stable ABI (PyUnicode_New, _PyBytes_Resize, PyCode_Addr2Line, _PyObject_GetDictPtr),
 * besides the PyList_GET_ITEM macro (direct struct access).  Packaged as cp311-abi3 it is
 * a lie that abi3audit catches. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
first(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyList_Check(arg) || PyList_GET_SIZE(arg) < 1) {
        PyErr_SetString(PyExc_ValueError, "need a non-empty list");
        return NULL;
    }
    PyObject *item = PyList_GET_ITEM(arg, 0);
    Py_INCREF(item);
    return item;
}

static PyObject *
blank(PyObject *self, PyObject *arg)
{
    (void)self;
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n < 0 && PyErr_Occurred())
        return NULL;
    PyObject *s = PyUnicode_New(n, 127);
    if (s == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyUnicode_WRITE(PyUnicode_1BYTE_KIND, PyUnicode_DATA(s), i, ' ');
    return s;
}

static PyObject *
shrink(PyObject *self, PyObject *arg)
{
    (void)self;
    PyObject *b = PyBytes_FromStringAndSize("abcdef", 6);
    if (b == NULL || _PyBytes_Resize(&b, 3) < 0)
        return NULL;
    (void)arg;
    return b;
}

static PyObject *
has_dict(PyObject *self, PyObject *arg)
{
    (void)self;
    return PyBool_FromLong(_PyObject_GetDictPtr(arg) != NULL);
}

static PyObject *
line0(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyCode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "need a code object");
        return NULL;
    }
    return PyLong_FromLong(PyCode_Addr2Line((PyCodeObject *)arg, 0));
}

static PyMethodDef methods[] = {
    {"first", first, METH_O, "first item of a list"},
    {"blank", blank, METH_O, "n spaces"},
    {"shrink", shrink, METH_O, "b'abc'"},
    {"has_dict", has_dict, METH_O, "has an instance dict slot"},
    {"line0", line0, METH_O, "line of bytecode offset 0"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "not_limited", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_not_limited(void)
{
    return PyModule_Create(&module);
}
