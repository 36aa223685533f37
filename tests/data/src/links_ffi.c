/* links_ffi: a CPython extension linked against the system libffi (DT_NEEDED libffi.so.8),
 * which no manylinux policy allows and which is not vendored in its wheel. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <ffi.h>

static PyObject *
cif_ok(PyObject *self, PyObject *args)
{
    ffi_cif cif;
    (void)self;
    (void)args;
    return PyBool_FromLong(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_void, NULL) == FFI_OK);
}

static PyMethodDef methods[] = {
    {"cif_ok", cif_ok, METH_NOARGS, "ffi_prep_cif works"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "links_ffi", NULL, -1, methods};

PyMODINIT_FUNC
PyInit_links_ffi(void)
{
    return PyModule_Create(&module);
}
