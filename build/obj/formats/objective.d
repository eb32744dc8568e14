build/obj/formats/objective.o: formats/objective.c formats/objective.h
formats/objective.h:
