FROM 127.0.0.1:5000/x/prev:tag as cached
# Save-artifacts script sourced from builder image based on user input or image metadata.
USER 1001
RUN if [ -s /usr/libexec/s2i/save-artifacts ]; then /usr/libexec/s2i/save-artifacts > /tmp/artifacts.tar; else touch /tmp/artifacts.tar; fi
FROM 127.0.0.1:5000/s2i-bot/python:latest
LABEL "io.k8s.display-name"="127.0.0.1:5000/x/prev:tag" \
      "io.openshift.s2i.build.image"="127.0.0.1:5000/s2i-bot/python:latest" \
      "io.openshift.s2i.build.source-location"="/src" \
      "io.openshift.s2i.scripts-url"="image:///usr/libexec/s2i" \
      "io.openshift.s2i.destination"="/tmp"
ENV APP_MODULE="app:app"
COPY --chown=1001:0 --from=cached /tmp/artifacts.tar /tmp/artifacts.tar
# Copying in source code
COPY --chown=1001:0 upload/src /tmp/src
USER 1001
# Extract artifact content
RUN if [ -s /tmp/artifacts.tar ]; then mkdir -p /tmp/artifacts; tar -xf /tmp/artifacts.tar -C /tmp/artifacts; fi && \
    rm /tmp/artifacts.tar
# Assemble script sourced from builder image based on user input or image metadata.
# If this file does not exist in the image, the build will fail.
RUN /usr/libexec/s2i/assemble
# Run script sourced from builder image based on user input or image metadata.
# If this file does not exist in the image, the build will fail.
CMD /usr/libexec/s2i/run
