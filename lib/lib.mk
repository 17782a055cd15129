# lib/ - libmssante.a, linked by every program and plugin.
LIB_SRCS := lib/msg.c lib/mymalloc.c lib/cfg.c lib/params.c lib/addr.c lib/pgutil.c \
	lib/milter_skel.c lib/cmd.c lib/dn.c lib/lb.c lib/mfi.c lib/milter_test.c lib/strlist.c lib/https.c \
	lib/privs.c lib/pwhash.c lib/notice.c lib/appsieve.c lib/authclient.c lib/token.c lib/buf.c
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
LIBMSSANTE := $(B)/lib/libmssante.a

$(LIBMSSANTE): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

all: $(LIBMSSANTE)
