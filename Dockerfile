# Contextualization runner (the Fargate task of the contextualize workflow).
#
# Node.js 22 + Ansible (Debian's ansible-core) + OpenSSH client + sshpass, and git for the
# ansible-galaxy roles given as git+https URLs; runs the pre-built runner bundle, which writes its
# own ansible.cfg per run. Build the bundle first (esbuild, lambdas/runner/main.ts →
# dist/runner/index.mjs):
#   npm run build:runner
# `cdk deploy` then builds and pushes this image as a Docker image asset; to do it by hand see
# docs/DEPLOY.md ("The contextualization image"). The build context is the repository root, cut
# down by .dockerignore to this file and dist/runner/.
FROM public.ecr.aws/docker/library/node:22-bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ansible-core openssh-client sshpass git ca-certificates \
 && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps

WORKDIR /opt/im-runner
COPY dist/runner/ ./

# The image's unprivileged user (uid 1000) runs the runner and Ansible.
USER node
CMD ["node", "/opt/im-runner/index.mjs"]
