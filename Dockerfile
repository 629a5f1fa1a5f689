# syntax=docker/dockerfile:1
# OrthancWeb in a container: the same self-contained linux-x64 publish and the same layout as the Debian package
# (packaging/build-release.sh): server in /opt/orthancweb, configuration in /etc/orthancweb/appsettings.json, data in
# /var/lib/orthancweb (a volume), run as the unprivileged user orthancweb. Not built in CI (no container engine there);
# the Debian package is the tested path (packaging/check-package.sh).
#
#   docker build -t orthancweb .
#   docker run -d --name orthancweb -p 8443:8443 -p 4242:4242 -v orthancweb-data:/var/lib/orthancweb orthancweb
#   docker exec orthancweb cat /var/lib/orthancweb/admin-password.txt    # the first login's password (admin)
#
# Settings: environment variables, ASP.NET style (-e OrthancWeb__DicomAet=PACS, -e Security__AdminPassword=...), or
# a file of your own mounted over /etc/orthancweb/appsettings.json (readable by uid 10001 or gid 10001).
# A host folder as the data volume must belong to uid 10001 (chown 10001:10001 DIR); the server keeps it 0700.

ARG DOTNET_VERSION=10.0

FROM mcr.microsoft.com/dotnet/sdk:${DOTNET_VERSION}-noble AS build
# npm fetches the OHIF viewer (@ohif/app, pinned and checked by the csproj) during the build; without it the server
# builds and runs without OHIF (warning OHIF001).
RUN apt-get update \
 && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Restore first, from the project files alone, so that a change of code does not download the packages again.
COPY Directory.Build.props .editorconfig ./
COPY OrthancWeb.Dicom/OrthancWeb.Dicom.csproj OrthancWeb.Dicom/
COPY OrthancWeb/OrthancWeb.csproj OrthancWeb/
RUN dotnet restore OrthancWeb/OrthancWeb.csproj -r linux-x64 -p:SelfContained=true -p:PublishReadyToRun=true
COPY . .
# As build-release.sh publishes it: Release, self-contained, ReadyToRun (the csproj's PublishReadyToRun).
RUN dotnet publish OrthancWeb/OrthancWeb.csproj -c Release -r linux-x64 --self-contained true -o /out/orthancweb \
 && packaging/make-config.sh appsettings.json /out/appsettings.json \
      'for the container image: data in the volume /var/lib/orthancweb; override any key with -e OrthancWeb__Key=value.'

# runtime-deps: only the native libraries .NET needs (glibc, OpenSSL, ICU, zlib); the publish brings the runtime.
FROM mcr.microsoft.com/dotnet/runtime-deps:${DOTNET_VERSION}-noble
# The JPEG-LS and JPEG 2000 codecs are the distribution's libraries, called through P/Invoke (as the package's Depends).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcharls2 libopenjp2-7 libturbojpeg0 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 orthancweb \
 && useradd --system --uid 10001 --gid orthancweb --home-dir /var/lib/orthancweb --no-create-home \
      --shell /usr/sbin/nologin orthancweb \
 && install -d -o orthancweb -g orthancweb -m 0700 /var/lib/orthancweb
COPY --from=build /out/orthancweb /opt/orthancweb
COPY --from=build --chown=root:orthancweb --chmod=0640 /out/appsettings.json /etc/orthancweb/appsettings.json

USER orthancweb
WORKDIR /var/lib/orthancweb
VOLUME /var/lib/orthancweb
# 8443: browser UI and REST over HTTPS (self-signed certificate made at the first start, kept in the volume);
# 4242: DICOM. The plain HTTP port (8042) listens on loopback only, so it is of no use outside the container unless
# opened on purpose: -e OrthancWeb__HttpRemoteAccessAllowed=true -p 8042:8042 (passwords then cross in cleartext).
EXPOSE 8443 4242
# SIGTERM (docker stop) stops the server cleanly; give it the unit's 60 s with docker stop -t 60 on a large index.
ENTRYPOINT ["/opt/orthancweb/OrthancWeb", "--config", "/etc/orthancweb/appsettings.json"]
