// Drives our DICOMweb server with dicomweb-client, the JavaScript client OHIF uses, as a browser would
// (XMLHttpRequest, here xhr2's), and prints what came back as JSON for the xunit test to check.
// Usage: node conformance.cjs <dicom-web url> <user> <password> <study> <series> <instance> <file to store>
global.XMLHttpRequest = require('xhr2');
const { api } = require('dicomweb-client');
const crypto = require('crypto');
const fs = require('fs');

const [url, user, password, study, series, instance, toStore] = process.argv.slice(2);
const client = new api.DICOMwebClient({
  url,
  headers: { Authorization: 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64') },
});
const sha = (buffer) => crypto.createHash('sha256').update(Buffer.from(buffer)).digest('hex');
const value = (dataset, tag) => (dataset[tag] && dataset[tag].Value ? dataset[tag].Value[0] : undefined);

(async () => {
  const out = {};
  const studies = await client.searchForStudies({ queryParams: { StudyInstanceUID: study } });
  out.studies = studies.map((s) => ({ uid: value(s, '0020000D'), series: value(s, '00201206'), instances: value(s, '00201208') }));
  const allSeries = await client.searchForSeries({ studyInstanceUID: study });
  out.series = allSeries.map((s) => value(s, '0020000E'));
  const instances = await client.searchForInstances({ studyInstanceUID: study, seriesInstanceUID: series });
  out.instances = instances.map((i) => value(i, '00080018'));
  const studyMetadata = await client.retrieveStudyMetadata({ studyInstanceUID: study });
  out.studyMetadata = studyMetadata.length;
  const metadata = await client.retrieveInstanceMetadata({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance });
  out.metadata = { rows: value(metadata[0], '00280010'), columns: value(metadata[0], '00280011'), pixelData: metadata[0]['7FE00010'] };
  const retrieved = await client.retrieveInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance });
  out.instanceSha256 = sha(retrieved);
  const frames = await client.retrieveInstanceFrames({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance, frameNumbers: [1] });
  out.frames = frames.map((f) => ({ length: f.byteLength, sha256: sha(f) }));
  const rendered = await client.retrieveInstanceRendered({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: instance,
    mediaTypes: [{ mediaType: 'image/jpeg' }] });
  const first = Array.isArray(rendered) ? rendered[0] : rendered; // some versions hand back [ArrayBuffer]
  const image = Buffer.from(first instanceof ArrayBuffer ? new Uint8Array(first) : first);
  out.rendered = { type: Object.prototype.toString.call(rendered), length: image.length, jpeg: image.subarray(0, 2).toString('hex') };
  const bytes = fs.readFileSync(toStore);
  const stored = await client.storeInstances({ datasets: [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)] });
  out.stored = typeof stored === 'string' ? JSON.parse(stored) : stored;
  console.log(JSON.stringify(out));
})().catch((error) => {
  console.error(error && error.stack ? error.stack : error, error && error.request ? error.request.status : '');
  process.exit(1);
});
