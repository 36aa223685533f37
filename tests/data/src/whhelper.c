/* whhelper: a tiny shared library that an extension links against; vendored inside the
 * wheel (good case) or left out of it (defect case).  Built as an ELF .so for glibc and
 * musl, and as a Windows DLL with mingw-w64. */
#ifdef _WIN32
__declspec(dllexport)
#endif
int whhelper_answer(void)
{
    return 42;
}
