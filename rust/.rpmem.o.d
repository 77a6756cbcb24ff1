rust/.rpmem.o.d: rust/rpmem.rs rust/sys/bindings.rs rust/ext/badblocks.rs rust/ext/block/bio.rs rust/ext/block/bio_disk.rs rust/ext/dax.rs rust/ext/memregion.rs rust/ext/mm/pagemap.rs rust/ext/nvdimm.rs rust/ext/nvdimm/mapping.rs rust/ext/nvdimm/pfn.rs rust/ext/nvdimm/region.rs rust/ext/sysfs.rs rust/pmem/attrs.rs rust/pmem/disk.rs rust/pmem/driver.rs rust/pmem/failure.rs rust/sys/bindings_generated.rs /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcore.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libkernel.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libffi.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcompiler_builtins.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init_internal.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libmacros.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbuild_error.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbindings.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy_derive.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libuapi.rmeta

rust/rpmem.o: rust/rpmem.rs rust/sys/bindings.rs rust/ext/badblocks.rs rust/ext/block/bio.rs rust/ext/block/bio_disk.rs rust/ext/dax.rs rust/ext/memregion.rs rust/ext/mm/pagemap.rs rust/ext/nvdimm.rs rust/ext/nvdimm/mapping.rs rust/ext/nvdimm/pfn.rs rust/ext/nvdimm/region.rs rust/ext/sysfs.rs rust/pmem/attrs.rs rust/pmem/disk.rs rust/pmem/driver.rs rust/pmem/failure.rs rust/sys/bindings_generated.rs /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcore.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libkernel.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libffi.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcompiler_builtins.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init_internal.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libmacros.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbuild_error.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbindings.rmeta /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy_derive.so /root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libuapi.rmeta

rust/rpmem.rs:
rust/sys/bindings.rs:
rust/ext/badblocks.rs:
rust/ext/block/bio.rs:
rust/ext/block/bio_disk.rs:
rust/ext/dax.rs:
rust/ext/memregion.rs:
rust/ext/mm/pagemap.rs:
rust/ext/nvdimm.rs:
rust/ext/nvdimm/mapping.rs:
rust/ext/nvdimm/pfn.rs:
rust/ext/nvdimm/region.rs:
rust/ext/sysfs.rs:
rust/pmem/attrs.rs:
rust/pmem/disk.rs:
rust/pmem/driver.rs:
rust/pmem/failure.rs:
rust/sys/bindings_generated.rs:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcore.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libkernel.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libffi.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libcompiler_builtins.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libpin_init_internal.so:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libmacros.so:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbuild_error.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libbindings.rmeta:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libzerocopy_derive.so:
/root/.cache/rpmem/kbuild/default-93aea42f3499/rust/libuapi.rmeta:
