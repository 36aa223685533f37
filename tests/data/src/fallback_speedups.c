/* fallback_pkg._speedups: an extension whose package has a pure-Python fallback.
 *
 * It calls PyLong_AsInt, which CPython added in 3.13, but is built with 3.11's headers (the
 * declaration below) and shipped under a cp311 name: what a wheel carrying another
 * version's build looks like. Linking leaves the symbol undefined; on 3.11 the import
 * fails ("undefined symbol: PyLong_AsInt"), and fallback_pkg/__init__.py swallows that.
 */
#include <Python.h>

extern int PyLong_AsInt(PyObject *obj);

static PyObject *as_int(PyObject *self, PyObject *arg) {
    int v = PyLong_AsInt(arg);
    if (v == -1 && PyErr_Occurred()) {
        return NULL;
    }
    return PyLong_FromLong(v);
}

static PyMethodDef methods[] = {
    {"as_int", as_int, METH_O, "int(value), in C"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
