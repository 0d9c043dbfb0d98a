// Read an ISCMAssist SR the way OHIF does: dcmjs parses it, @cornerstonejs/adapters'
// MeasurementReport.generateToolState turns its measurement groups into tool annotations.
// Usage: node ohif_lengths.mjs SR.dcm IMAGES.json
// IMAGES.json: {"<SOPInstanceUID>" or "<SOPInstanceUID>:<frame>": {"imagePositionPatient": [..], "rowCosines": [..],
//   "columnCosines": [..], "rowPixelSpacing": r, "columnPixelSpacing": c, "frameOfReferenceUID": ".."}}
// Prints JSON: {"lengths": [{tool, trackingIdentifier, length, unit, points}], "warnings": n}.
import fs from 'node:fs';
import * as core from '@cornerstonejs/core';
import dcmjs from 'dcmjs';
import { adaptersSR } from '@cornerstonejs/adapters';

const [srPath, imagesPath] = process.argv.slice(2);
const images = JSON.parse(fs.readFileSync(imagesPath, 'utf8'));
const imageId = (uid) => `iscm:${uid}`;
const planeModule = (id) => {
  const image = images[id.slice('iscm:'.length)];
  if (!image) return undefined;
  return {
    imagePositionPatient: image.imagePositionPatient,
    rowCosines: image.rowCosines,
    columnCosines: image.columnCosines,
    rowPixelSpacing: image.rowPixelSpacing,
    columnPixelSpacing: image.columnPixelSpacing,
    frameOfReferenceUID: image.frameOfReferenceUID,
  };
};
core.metaData.addProvider((type, id) => (type === 'imagePlaneModule' ? planeModule(id) : undefined), 10000);

let warnings = 0;
const log = core.utilities.logger.adaptersLog.getLogger('Cornerstone3D.MeasurementReport');
log.warn = () => { warnings += 1; };

const buffer = fs.readFileSync(srPath);
const dicomData = dcmjs.data.DicomMessage.readFile(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dicomData.dict);
dataset._meta = dcmjs.data.DicomMetaDictionary.namifyDataset(dicomData.meta);

const sopToImageId = {};
for (const key of Object.keys(images)) sopToImageId[key.includes(':') ? key : `${key}:1`] = imageId(key);
const metadata = { get: (type, id) => (type === 'imagePlaneModule' ? planeModule(id) : undefined) };

const { MeasurementReport } = adaptersSR.Cornerstone3D;
const state = MeasurementReport.generateToolState(dataset, sopToImageId, metadata);
const lengths = [];
for (const [tool, annotations] of Object.entries(state)) {
  for (const annotation of annotations) {
    const stats = Object.values(annotation.annotation.data.cachedStats || {})[0] || {};
    lengths.push({
      tool,
      finding: annotation.description,
      referencedImageId: annotation.annotation.metadata.referencedImageId || null,
      length: stats.length === undefined ? null : Number(stats.length),
      unit: stats.unit || null,
      points: annotation.annotation.data.handles.points,
    });
  }
}
process.stdout.write(JSON.stringify({ lengths, warnings }));
