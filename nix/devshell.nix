{ pkgs }:
pkgs.mkShell {
  packages = [
    pkgs.nodejs_22
    pkgs.pnpm
    pkgs.nats-server
    pkgs.buf
  ];
  shellHook = ''
    export CIM_NATS_SERVER=${pkgs.nats-server}/bin/nats-server
  '';
}
