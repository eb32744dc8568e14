build/obj/formats/ir.o: formats/ir.c formats/ir.h
formats/ir.h:
