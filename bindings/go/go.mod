module lmrt.local/lmrt

go 1.19
