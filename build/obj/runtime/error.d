build/obj/runtime/error.o: runtime/error.c runtime/error.h include/lmrt.h
runtime/error.h:
include/lmrt.h:
