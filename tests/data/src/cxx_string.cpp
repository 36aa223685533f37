// cxx_string: a C++ CPython extension using std::string (the C++11 ABI), whose symbols carry
// GLIBCXX_3.4.21+ versions: newer than manylinux_2_17 (manylinux2014, GLIBCXX <= 3.4.19) allows.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string>

static PyObject *
shout(PyObject *, PyObject *arg)
{
    const char *s = PyUnicode_AsUTF8(arg);
    if (s == nullptr)
        return nullptr;
    std::string out(s);
    out += "!";
    return PyUnicode_FromStringAndSize(out.data(), (Py_ssize_t)out.size());
}

static PyMethodDef methods[] = {
    {"shout", shout, METH_O, "append '!'"},
    {nullptr, nullptr, 0, nullptr},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cxx_string", nullptr, -1, methods};

PyMODINIT_FUNC
PyInit_cxx_string(void)
{
    return PyModule_Create(&module);
}
