/**
 * `radiomics enclave-config --keytag FILE --mrenclave FILE --image NAME [--ffmpeg-mrenclave FILE] [--out config.json]`:
 * writes the enclave image facts (mrenclave, image-name, fspf-tag, fspf-key, fspf-path) from the image build's
 * output. The implementation lives in enclave/build-config.ts (also runnable directly with tsx).
 */
export { run } from '#enclave/build-config.js';
