module axbench-go

go 1.19
